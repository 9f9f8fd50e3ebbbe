"""Compose and Kubernetes ship no credential: each comes from docker/.env or the Secret."""

import json
import re
import subprocess
from pathlib import Path

from shop.token_secret import problem_with
from tests import yaml_files
from tests.unit.deploy import k8s
from tests.unit.deploy.files import schema_errors
from tools.broker_users import PROCESSES, user_name

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
ENV_EXAMPLE = DOCKER / ".env.example"
SECRET_NAME = "shop-secrets"
# Compose's required variables: ${NAME:?how to set it}, never a ${NAME:-default}.
_REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")
_CREDENTIAL_KEY = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN|_URI$")


def _compose():
    return yaml_files.load(DOCKER / "compose.yaml")


def _env_example():
    entries = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


def test_compose_publishes_only_the_gateway_and_grafana_this_host_only():
    published = {name: s["ports"] for name, s in _compose()["services"].items() if "ports" in s}

    assert set(published) == {"gateway", "grafana"}, published
    assert all(port.startswith("127.0.0.1:") for port in published["grafana"])


def test_compose_writes_down_no_credential_and_no_default_user():
    text = (DOCKER / "compose.yaml").read_text()
    assert "guest" not in text and "change-me" not in text
    assert ":-" not in re.sub(r"#.*", "", text), "no ${VAR:-default}: a default is public"
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            has_password = _CREDENTIAL_KEY.search(key) and "@" in value
            if has_password or key.endswith(("PASSWORD", "PASS")):
                # The password part, whatever the value's shape, comes from docker/.env.
                assert _REQUIRED.search(value), (name, key, value)
            if key.endswith(("SECRET", "TOKEN")) and value:
                assert _REQUIRED.fullmatch(value), (name, key, value)


def test_every_shop_process_connects_to_the_broker_as_its_own_user():
    services = _compose()["services"]
    for process in PROCESSES:
        uri = services[process]["environment"]["AMQP_URI"]
        assert uri.startswith(f"pyamqp://{user_name(process)}:${{"), (process, uri)
    rabbitmq = services["rabbitmq"]["environment"]
    assert _REQUIRED.fullmatch(rabbitmq["RABBITMQ_DEFAULT_PASS"])
    # The users and their permissions are made before any shop process starts.
    for process in PROCESSES:
        depends = services[process]["depends_on"]
        assert depends["rabbitmq-users"]["condition"] == "service_completed_successfully"


def test_the_token_secret_goes_only_to_the_processes_that_sign_or_check_tokens():
    services = _compose()["services"]
    holders = {
        name for name, s in services.items() if "JWT_SECRET" in (s.get("environment") or {})
    }

    assert holders == {"users", "gateway"}


def test_consul_runs_with_acls_that_deny_by_default_and_unpublished():
    consul = _compose()["services"]["consul"]
    command = " ".join(consul.get("command") or [])
    config = json.loads(consul["environment"]["CONSUL_LOCAL_CONFIG"])

    assert "-dev" not in command
    assert config["acl"]["enabled"] is True and config["acl"]["default_policy"] == "deny"
    assert _REQUIRED.fullmatch(config["acl"]["tokens"]["initial_management"])
    assert "ports" not in consul


def test_env_example_lists_every_variable_compose_requires_each_refused_as_it_is():
    required = set(_REQUIRED.findall((DOCKER / "compose.yaml").read_text()))
    example = _env_example()

    assert required == set(example), required ^ set(example)
    # Copied as it is, it starts nothing: compose refuses each empty value, the shop the secret.
    assert all(value == "" for name, value in example.items() if name != "ADMIN_EMAIL")
    assert problem_with(example["JWT_SECRET"]) is not None
    assert "new-env.sh" in ENV_EXAMPLE.read_text()


def test_new_env_writes_a_random_value_for_every_variable(tmp_path):
    script = DOCKER / "new-env.sh"
    target = tmp_path / ".env"

    subprocess.run([script, str(target)], check=True, capture_output=True)
    subprocess.run([script, str(tmp_path / "other.env")], check=True, capture_output=True)
    again = subprocess.run([script, str(target)], capture_output=True, text=True)

    first = dict(line.split("=", 1) for line in target.read_text().splitlines() if "=" in line)
    other = (tmp_path / "other.env").read_text()
    assert set(first) == set(_env_example())
    assert all(first.values()) and problem_with(first["JWT_SECRET"]) is None
    assert not any(value in other for name, value in first.items() if name != "ADMIN_EMAIL")
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites secrets
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def _k8s_documents():
    return [doc for env in k8s.ENVIRONMENTS for doc in k8s.documents(env)]


def _environments(document):
    """``{container: {variable: ("secret", name, key) | ("value", text)}}``."""
    pod = document.get("spec", {}).get("template", {}).get("spec", {})
    environments = {}
    for container in pod.get("containers", []):
        assert not any("secretRef" in source for source in container.get("envFrom", []))
        environment = {}
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                environment[variable["name"]] = ("secret", ref["name"], ref["key"])
            elif "value" in variable:
                environment[variable["name"]] = ("value", variable["value"])
        environments[container["name"]] = environment
    return environments


def _secret_keys():
    """``{secret name: keys the manifests read from it}``."""
    used = {}
    for document in _k8s_documents():
        for environment in _environments(document).values():
            for source in environment.values():
                if source[0] == "secret":
                    used.setdefault(source[1], set()).add(source[2])
    return used


def test_kubernetes_ships_no_secret_and_gives_each_process_only_its_own_credentials():
    documents = _k8s_documents()
    assert not [d for d in documents if d["kind"] == "Secret"]
    text = "\n".join(p.read_text() for p in (DOCKER / "k8s").rglob("*.yaml"))
    assert "guest" not in text and "change-me" not in text
    deployments = {
        d["metadata"]["name"]: _environments(d)[d["metadata"]["name"]]
        for d in documents
        if d["kind"] == "Deployment"
    }

    assert set(deployments) == set(PROCESSES)
    assert set(_secret_keys()) == {SECRET_NAME, "shop-broker-admin"}
    for process, environment in deployments.items():
        keys = {source[2] for source in environment.values() if source[0] == "secret"}
        assert all(
            source[1] == SECRET_NAME for source in environment.values() if source[0] == "secret"
        )
        # Its own broker user and password, and nobody else's.
        assert environment["AMQP_URI"][1].startswith(f"pyamqp://{user_name(process)}:$(")
        assert environment["RABBITMQ_PASSWORD"][2] == f"rabbitmq-{process}-password"
        others = [p for p in PROCESSES if p != process]
        assert not [
            k
            for k in keys
            if any(k.startswith(f"{other}-") or f"-{other}-" in k for other in others)
        ], keys
        # The token secret only where tokens are signed or checked.
        assert ("JWT_SECRET" in environment) == (process in ("users", "gateway")), process
    assert all(
        source[1] == SECRET_NAME
        for env in deployments.values()
        for source in env.values()
        if source[0] == "secret"
    )


def test_the_documented_kubectl_commands_create_exactly_the_keys_the_manifests_use():
    doc = (REPO / "docs" / "security.md").read_text()
    for secret, used in _secret_keys().items():
        command = doc.split(f"kubectl -n shop create secret generic {secret}", 1)[1]
        command = command.split("```", 1)[0].split("kubectl", 1)[0]
        created = set(re.findall(r"--from-literal=([\w.-]+)=", command))
        assert created == used, (secret, created ^ used)


def test_prometheus_reads_consul_with_its_own_token_file():
    # (Debian's promtool, built without Consul discovery, checks the rest of this file
    # through a static twin: tests/unit/deploy/test_prometheus.py.)
    config = yaml_files.load(DOCKER / "prometheus" / "prometheus.yml")
    consul = config["scrape_configs"][0]["consul_sd_configs"]
    secret = consul[0]["authorization"]["credentials_file"].removeprefix("/run/secrets/")
    services = _compose()["services"]

    assert secret in services["prometheus"]["secrets"]
    assert _compose()["secrets"][secret]["environment"] == "CONSUL_PROMETHEUS_TOKEN"


def test_the_local_ports_override_publishes_to_this_host_only():
    override = yaml_files.load(DOCKER / "compose.local-ports.yaml")["services"]
    ports = [port for service in override.values() for port in service["ports"]]

    assert ports and all(port.startswith("127.0.0.1:") for port in ports)
    assert schema_errors(DOCKER / "compose.local-ports.yaml", "vendor.compose-spec") == ""
