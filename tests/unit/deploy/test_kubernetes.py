"""docker/k8s/ rendered as each environment gets it: valid for Kubernetes, and the policy a
platform team holds production to (probes, limits, non-root, replicas, budgets, network)."""

import ast
import re

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.commands import GATEWAY, NAMEKO_RUN
from tests.unit.deploy.files import REPO
from tests.unit.deploy.k8s import (
    CUSTOM_RESOURCE_SCHEMAS,
    ENVIRONMENTS,
    K8S,
    RABBITMQ_CLUSTER_SCHEMA,
    RABBITMQ_POD,
    admissions,
    documents,
    of_kind,
    pod_templates,
    render,
    selects,
)

# The oldest Kubernetes the manifests are for (the gateway's preStop `sleep` action is on
# by default from 1.30), and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
SHOP = {"users", "inventory", "orders", "gateway"}
SERVICES = SHOP - {"gateway"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_document_is_valid_for_kubernetes_in_strict_mode(environment):
    docs = documents(environment)

    for doc in docs:
        # Never the kubeconfig's current namespace, whatever it is.
        assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "shop", doc
        schema = CUSTOM_RESOURCE_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
        if schema:
            jsonschema.validate(doc, schema)
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    assert set(of_kind(docs, "Deployment")) == SHOP
    assert set(of_kind(docs, "Job")) == {"migrate", "broker-users"}
    assert {name.rsplit("-", 1)[0] for name in of_kind(docs, "ConfigMap")} == {
        "shop-config",
        "shop-env",
    }
    assert ("RabbitmqCluster" in {d["kind"] for d in docs}) == (environment == "production")


def test_the_cluster_schema_refuses_a_field_the_shop_does_not_use():
    [cluster] = of_kind(documents("production"), "RabbitmqCluster").values()
    typo = {**cluster, "spec": {**cluster["spec"], "replica": 3}}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, RABBITMQ_CLUSTER_SCHEMA)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_container_runs_unprivileged_on_a_read_only_root_with_requests_and_limits(
    environment,
):
    for name, (template, _) in pod_templates(documents(environment)).items():
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = {**pod["securityContext"], **container["securityContext"]}
            assert context["runAsNonRoot"] is True, name
            assert context["runAsUser"] == context["runAsGroup"] == 10001, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert {"cpu", "memory"} <= resources["limits"].keys(), name
            # The only writable place: /tmp, an emptyDir.
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_every_production_deployment_has_startup_liveness_and_readiness_probes_on_health():
    for name, (template, kind) in pod_templates(documents("production")).items():
        [container] = template["spec"]["containers"]
        if kind == "Job":
            # A Job runs to completion: the Job's own deadline and retries stand in for
            # probes, which would only restart a migration midway.
            assert not {"livenessProbe", "readinessProbe"} & container.keys(), name
            assert template["spec"]["restartPolicy"] in ("Never", "OnFailure"), name
            continue
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        expected_port = 8000 if name == "gateway" else 9102
        paths = {
            "startupProbe": "/health/live",
            "livenessProbe": "/health/live",
            # A service is ready on its own broker, consumers and database; the
            # gateway's /health/ready asks every service, and one service down must
            # not take every gateway (and so every route) out of the Service.
            "readinessProbe": "/health/live" if name == "gateway" else "/health/ready",
        }
        for probe, path in paths.items():
            action = container[probe]["httpGet"]
            assert (action["path"], ports[action["port"]]) == (path, expected_port), (name, probe)


def test_every_production_deployment_keeps_two_replicas_or_more_and_has_a_disruption_budget():
    docs = documents("production")
    autoscalers = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in of_kind(docs, "HorizontalPodAutoscaler").values()
    }
    budgets = of_kind(docs, "PodDisruptionBudget").values()

    assert set(autoscalers) == {"gateway", "orders"}
    for name, deployment in of_kind(docs, "Deployment").items():
        if name in autoscalers:
            # The autoscaler alone sets the count: a replicas field would reset it at
            # every apply.
            assert "replicas" not in deployment["spec"], name
            assert autoscalers[name]["spec"]["minReplicas"] >= 2, name
        else:
            assert deployment["spec"]["replicas"] >= 2, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, name
        assert covering[0]["spec"]["maxUnavailable"] >= 1, name  # a drain can proceed


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_gateway_takes_outside_traffic_and_metrics_come_only_from_monitoring(
    environment,
):
    docs = documents(environment)
    pods, admitted = admissions(docs)
    deny_all = [
        p
        for p in of_kind(docs, "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
    ]
    scrape_ports = {
        name: int(metadata["annotations"]["prometheus.io/port"])
        for name, metadata in pods.items()
        if metadata.get("annotations", {}).get("prometheus.io/scrape") == "true"
    }
    if "rabbitmq" in pods:
        scrape_ports["rabbitmq"] = RABBITMQ_POD["metrics_port"]

    assert deny_all, "a default deny of all ingress"
    assert {(pod, port) for pod, source, port in admitted if source == "anywhere"} == {
        ("gateway", 8000)
    }
    from_other_namespaces = {
        (pod, port) for pod, source, port in admitted if source not in ("anywhere", "namespace")
    }
    assert {source for _, source, _ in admitted} <= {"anywhere", "namespace", "monitoring"}
    assert from_other_namespaces == set(scrape_ports.items()) - {("gateway", 8000)}
    # Within the namespace, only the broker's nodes take connections (from the shop).
    assert {pod for pod, source, _ in admitted if source == "namespace"} <= {"rabbitmq"}


def test_no_environment_and_no_file_ships_a_secret():
    for environment in ENVIRONMENTS:
        assert not of_kind(documents(environment), "Secret"), environment
    for path in K8S.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (isinstance(doc, dict) and doc.get("kind") == "Secret"), path


def test_the_containers_start_the_shop_as_the_procfile_and_the_tests_do():
    pods = pod_templates(documents("production"))
    # As tests/commands.py, minus its `python -m`, with the mounted config.
    nameko_run = [*NAMEKO_RUN[2:-1], "$(SHOP_CONFIG)"]

    for service in SERVICES:
        [container] = pods[service][0]["spec"]["containers"]
        assert container["args"] == [*nameko_run, f"{service}.service"]
    [gateway] = pods["gateway"][0]["spec"]["containers"]
    assert gateway["args"] == GATEWAY[2:]
    [migrate] = pods["migrate"][0]["spec"]["containers"]
    assert migrate["args"] == ["python", "-m", "tools.migrate", "--config", "$(SHOP_CONFIG)"]
    assert {"USERS_DB_URI", "INVENTORY_DB_URI", "ORDERS_DB_URI"} <= {
        variable["name"] for variable in migrate["env"]
    }


def test_every_pod_reads_the_repository_config_yaml_where_shop_config_points():
    docs = documents("production")
    config_maps = {name.rsplit("-", 1)[0]: cm for name, cm in of_kind(docs, "ConfigMap").items()}
    config = config_maps["shop-config"]

    assert config["data"] == {"config.yaml": (REPO / "config.yaml").read_text()}
    for name, (template, _) in pod_templates(docs).items():
        pod = template["spec"]
        [volume] = [v for v in pod["volumes"] if "configMap" in v]
        assert volume["configMap"]["name"] == config["metadata"]["name"], name
        [container] = pod["containers"]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        expected = f"{mount['mountPath']}/config.yaml"
        assert config_maps["shop-env"]["data"]["SHOP_CONFIG"] == expected, name


def _default(name, path):
    """The default of ``${NAME:default}`` in a config file."""
    return float(re.search(rf"\${{{name}:([\d.]+)}}", path.read_text()).group(1))


def test_each_grace_period_outlasts_the_graceful_stop_it_allows_for():
    pods = pod_templates(documents("production"))
    gunicorn_conf = ast.parse((REPO / "gateway" / "gunicorn_conf.py").read_text())
    [graceful_timeout] = [
        node.value.value
        for node in gunicorn_conf.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "graceful_timeout"
    ]
    config = REPO / "config.yaml"
    # orders.create_order makes two calls in turn; then Consul is told the instance left.
    slowest_worker = 2 * _default("RPC_TIMEOUT_SECONDS", config)
    service_stop = slowest_worker + _default("CONSUL_TIMEOUT_SECONDS", config)

    gateway = pods["gateway"][0]["spec"]
    pre_stop = gateway["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert gateway["terminationGracePeriodSeconds"] > pre_stop + graceful_timeout
    for service in SERVICES:  # with room for a slow database: twice the worst stop
        assert pods[service][0]["spec"]["terminationGracePeriodSeconds"] > 2 * service_stop


def test_the_environments_differ_in_replicas_resources_and_settings():
    def shape(environment):
        docs = documents(environment)
        [env] = [cm["data"] for n, cm in of_kind(docs, "ConfigMap").items() if "env" in n]
        return (
            of_kind(docs, "Deployment")["users"]["spec"]["replicas"],
            str(of_kind(docs, "Deployment")["users"]["spec"]["template"]["spec"]["containers"]),
            str(sorted(env.items())),
            of_kind(docs, "HorizontalPodAutoscaler")["gateway"]["spec"]["maxReplicas"],
        )

    shapes = [shape(environment) for environment in ENVIRONMENTS]
    for facet in zip(*shapes, strict=True):
        assert len(set(facet)) == len(ENVIRONMENTS), facet


def test_a_release_runs_every_shop_container_from_the_given_image():
    docs = render("staging", "ghcr.io/example/shop", "0123456")
    images = {
        container["image"]
        for template, _ in pod_templates(docs).values()
        for container in template["spec"]["containers"]
    }

    assert images == {"ghcr.io/example/shop:0123456"}


def test_production_runs_rabbitmq_as_a_three_node_cluster_where_the_shop_connects():
    docs = documents("production")
    [cluster] = of_kind(docs, "RabbitmqCluster").values()
    [env] = [cm["data"] for name, cm in of_kind(docs, "ConfigMap").items() if "env" in name]

    assert cluster["spec"]["replicas"] == 3
    # The operator's client Service is named after the cluster.
    assert env["RABBITMQ_HOST"] == cluster["metadata"]["name"]
    for name in SHOP:
        [container] = pod_templates(docs)[name][0]["spec"]["containers"]
        [uri] = [v["value"] for v in container["env"] if v["name"] == "AMQP_URI"]
        assert "@$(RABBITMQ_HOST):5672/" in uri, name
