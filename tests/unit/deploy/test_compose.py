"""docker/compose.yaml: valid Compose, every part health-checked and started in order, data
in named volumes, secrets only from docker/.env, and a three-node RabbitMQ profile."""

import itertools
import re

from tests import yaml_files
from tests.unit.deploy.files import (
    COMPOSE,
    DOCKER,
    compose_services,
    dockerfile_arguments,
    schema_errors,
)

SHOP_PROCESSES = ("users", "inventory", "orders", "gateway")
# Compose's required variables: ${NAME:?how to set it}.
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")
_SECRET_KEY = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN|COOKIE|_AUTH$")


def _uses_shop_image(service):
    return service.get("build", {}).get("dockerfile") == "docker/Dockerfile"


def _image_health_port(service):
    """The port the image's HEALTHCHECK asks, in this container."""
    default = re.search(r"\bHEALTH_PORT=(\d+)", " ".join(dockerfile_arguments("ENV"))).group(1)
    return str(service["environment"].get("HEALTH_PORT", default))


def test_the_compose_file_follows_the_compose_specification():
    assert schema_errors(COMPOSE, "vendor.compose-spec") == ""


def test_the_compose_file_runs_consul_prometheus_grafana_jaeger_and_every_shop_process():
    services = compose_services()

    assert {"consul", "prometheus", "grafana", "jaeger", "redis", "migrate"} <= services.keys()
    for name in SHOP_PROCESSES:
        environment = services[name]["environment"]
        assert environment["CONSUL_HOST"] == "consul", name
        assert environment["SERVICE_ADDRESS"] == name, name
        assert environment["TRACING_EXPORTER"] == "otlp", name
        # One image for all of them; the command picks the process.
        assert _uses_shop_image(services[name]) and services[name]["image"] == "shop:latest"


def test_every_part_has_a_healthcheck_that_asks_what_it_serves():
    for name, service in compose_services().items():
        healthcheck = service.get("healthcheck")
        if healthcheck is not None:
            assert healthcheck.get("test") and not healthcheck.get("disable"), name
            continue
        # Otherwise the image's HEALTHCHECK: /health/live on HEALTH_PORT, which must be the
        # port the process serves it on (a service's metrics port, the gateway's own).
        assert _uses_shop_image(service), f"{name} has no healthcheck"
        environment = service["environment"]
        if service["command"][0] == "nameko":
            assert _image_health_port(service) == environment["METRICS_PORT"], name
        else:
            assert service["command"][0] == "gunicorn", name
            assert _image_health_port(service) == environment["GATEWAY_PORT"], name


def test_every_dependency_waits_for_health_or_for_a_one_shot_step_to_succeed():
    services = compose_services()
    one_shots = set()
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for dependency, rule in depends_on.items():
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_completed_successfully":
                one_shots.add(dependency)
    # A step that must exit 0 never restarts, and none of the long-running parts is one.
    assert one_shots == {"migrate", "rabbitmq-users", "consul-acl"}
    assert all(services[name].get("restart", "no") == "no" for name in one_shots)


def test_the_services_start_migrated_and_the_gateway_with_its_redis():
    services = compose_services()

    assert services["migrate"]["command"][:3] == ["python", "-m", "tools.migrate"]
    for name in ("users", "inventory", "orders"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", name
    gateway = services["gateway"]
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    assert gateway["environment"]["REDIS_URI"].rpartition("@")[2].startswith("redis:6379/")


def test_every_part_with_data_keeps_it_in_a_named_volume():
    document = yaml_files.load(COMPOSE)
    data_paths = {
        "postgres": "/var/lib/postgresql/data",
        "rabbitmq": "/var/lib/rabbitmq",
        "rabbitmq-2": "/var/lib/rabbitmq",
        "rabbitmq-3": "/var/lib/rabbitmq",
        "consul": "/consul/data",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
    }
    used = []
    for name, path in data_paths.items():
        mounts = dict(
            reversed(volume.split(":")[:2]) for volume in document["services"][name]["volumes"]
        )
        used.append(mounts.get(path))
        assert mounts.get(path) in document["volumes"], (name, mounts)

    assert len(set(used)) == len(used), "each part has a volume of its own"
    assert set(used) == set(document["volumes"])


def _secret_values(name, service):
    """``(where, value)`` of every value in ``service`` that holds a secret."""
    for key, value in (service.get("environment") or {}).items():
        if _SECRET_KEY.search(key) or "@" in str(value):
            yield f"{name}.environment.{key}", str(value)
    command = service.get("command") or []
    for flag, value in itertools.pairwise(command):
        if flag == "--requirepass":
            yield f"{name}.command {flag}", value


def test_every_secret_comes_from_docker_env_and_none_is_written_down():
    secrets = [item for name, s in compose_services().items() for item in _secret_values(name, s)]

    assert len(secrets) > 20
    for where, value in secrets:
        if "@" in value:  # a URI: its password part
            assert REQUIRED.search(value.partition("@")[0]), where
        else:
            assert REQUIRED.fullmatch(value), where
    # Compose interpolates nothing else: no ${VAR} or ${VAR:-default} that could be empty.
    text = re.sub(r"#.*", "", COMPOSE.read_text())
    interpolated = re.findall(r"\$\{[^}]*\}", text)
    assert interpolated and all(REQUIRED.fullmatch(variable) for variable in interpolated)


def test_the_cluster_profile_adds_two_rabbitmq_nodes_that_join_the_first():
    services = compose_services()
    nodes = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
    profiled = {name for name, service in services.items() if "profiles" in service}
    config = (DOCKER / "rabbitmq" / "cluster.conf").read_text()
    listed = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", config, re.M)

    assert profiled == {"rabbitmq-2", "rabbitmq-3"}
    assert all(services[name]["profiles"] == ["cluster"] for name in profiled)
    assert "cluster_formation.peer_discovery_backend = classic_config" in config
    # Each node's name comes from its hostname, and all of them are in the list.
    assert listed == [f"rabbit@{services[name]['hostname']}" for name in nodes]
    for name in nodes:
        node = services[name]
        assert node["image"] == services["rabbitmq"]["image"], name
        assert "./rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/30-cluster.conf:ro" in node["volumes"]
        # Nodes join only a node with the same Erlang cookie.
        cookie = node["environment"]["RABBITMQ_ERLANG_COOKIE"]
        assert REQUIRED.fullmatch(cookie).group(1) == "RABBITMQ_ERLANG_COOKIE", name
    for name in ("rabbitmq-2", "rabbitmq-3"):
        # Started once the first node runs, they join it instead of forming their own.
        assert services[name]["depends_on"] == {"rabbitmq": {"condition": "service_healthy"}}
