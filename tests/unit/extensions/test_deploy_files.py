"""Kubernetes and CI files checked offline (the compose, image, Prometheus and Grafana
files: tests/unit/deploy/)."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
MAKEFILE = REPO / "Makefile"
PYPROJECT = REPO / "pyproject.toml"


def test_every_kubernetes_manifest_is_valid_for_the_current_api():
    documents = [
        doc
        for path in sorted((DOCKER / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    kinds = []
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)
        kinds.append((document["kind"], document["metadata"]["name"]))

    assert ("Deployment", "gateway") in kinds
    assert {("Deployment", name) for name in ("users", "inventory", "orders")} <= set(kinds)


def test_the_github_workflow_follows_the_workflow_schema_and_runs_make_test():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["steps"]
    assert any(step.get("run") == "make test" for step in steps)


# pytest's own ways to leave tests out, as they would appear on a command line.
_DESELECTING = re.compile(r"(?<![\w-])(-m|-k|--deselect|--ignore|--ignore-glob)(?![\w-])")


def test_the_github_workflow_deselects_no_test_and_runs_the_broker_where_rabbitmqctl_reaches():
    text = WORKFLOW.read_text()
    job = yaml.safe_load(text)["jobs"]["test"]
    runs = [step["run"] for step in job["steps"] if "run" in step]

    # `make test` is the whole suite, reliability and fault tests included: no pytest
    # options from the environment (at any level, or written to $GITHUB_ENV), and no
    # test command here that leaves some out.
    assert "PYTEST_ADDOPTS" not in text
    test_runs = [run for run in runs if "pytest" in run or "make" in run]
    assert not [run for run in test_runs if _DESELECTING.search(run)]
    # Nor do the make recipe or pytest's configuration leave any out.
    recipe = MAKEFILE.read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    addopts = tomllib.loads(PYPROJECT.read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert not _DESELECTING.search(recipe), recipe
    assert not _DESELECTING.search(addopts), addopts
    # Those tests stop and start the broker with rabbitmqctl: it runs on the job's own
    # host, installed there, not in a service container that rabbitmqctl cannot reach.
    assert "services" not in job
    assert any("rabbitmq-server" in run for run in runs)
    assert any("rabbitmqctl" in run for run in runs)
