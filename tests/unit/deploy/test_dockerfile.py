"""docker/Dockerfile: linted by hadolint, built in two stages from a pinned base, run as a
numeric non-root user with a health check, from a build context of only what it copies."""

import re

from tests.unit.deploy.files import DOCKERFILE, REPO, dev_tool, dockerfile_arguments, run


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = run([dev_tool("hadolint"), "--no-color", DOCKERFILE])

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_image_is_built_in_two_stages_from_one_base_pinned_by_digest():
    base, *stages = dockerfile_arguments("FROM")

    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64} AS python", base), (
        base
    )
    # Both stages start from that base, named once; the last one is the runtime.
    assert stages == ["python AS wheels", "python"]
    # The wheels come from constraints.txt's pins; the runtime installs those alone.
    assert any(
        "pip wheel" in command and "-c constraints.txt" in command
        for command in dockerfile_arguments("RUN")
    )
    (runtime_install,) = [
        command for command in dockerfile_arguments("RUN") if "pip install" in command
    ]
    assert "from=wheels" in runtime_install and "--no-index" in runtime_install


def test_the_image_runs_as_a_numeric_user_that_is_not_root():
    (user,) = dockerfile_arguments("USER")

    assert re.fullmatch(r"\d+:\d+", user), user
    assert user.split(":")[0] != "0"


def test_the_healthcheck_asks_health_live_on_the_metrics_port_unless_told_otherwise():
    (healthcheck,) = dockerfile_arguments("HEALTHCHECK")
    environment = " ".join(dockerfile_arguments("ENV"))
    metrics_default = re.search(
        r"\$\{METRICS_PORT:(\d+)\}", (REPO / "config.yaml").read_text()
    ).group(1)

    assert "/health/live" in healthcheck and "os.environ['HEALTH_PORT']" in healthcheck
    assert re.search(r"\bHEALTH_PORT=(\d+)", environment).group(1) == metrics_default


def test_the_build_context_holds_exactly_what_the_image_copies():
    copied = set()
    for arguments in dockerfile_arguments("COPY"):
        assert not arguments.startswith("--from"), "the runtime copies no build output"
        copied.update(arguments.split()[:-1])
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [p for p in patterns if p and not p.startswith("#")]
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}

    # Everything is left out but what is let back in: no tests, .venv, var/ or .env.
    assert patterns[0] == "*"
    assert allowed == copied
