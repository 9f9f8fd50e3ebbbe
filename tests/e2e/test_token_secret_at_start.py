"""``nameko run`` (users, which signs tokens) and gunicorn (the gateway, which checks
them) exit at start, saying how to set JWT_SECRET, when it is missing or published."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.commands import GATEWAY, service_command

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = "compose-only-secret-change-me-0123456789abcdef"  # compose's old default

COMMANDS = {"users service": service_command("users"), "gateway": GATEWAY}


def _run_until_exit(argv, env, log_path, seconds=30):
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("secret", [None, PUBLISHED], ids=["unset", "published"])
@pytest.mark.parametrize("process", COMMANDS)
def test_a_process_that_would_use_the_token_secret_refuses_to_start(
    process, secret, rabbit_config, tmp_path
):
    env = {
        **os.environ,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "USERS_DB_URI": f"sqlite:///{tmp_path}/users.sqlite3",
        "CONSUL_ENABLED": "false",
        "METRICS_PORT": "0",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": "0",
        "GATEWAY_WORKERS": "1",
        "LOG_FORMAT": "json",
    }
    env.pop("JWT_SECRET", None)
    if secret is not None:
        env["JWT_SECRET"] = secret
    log_path = tmp_path / "process.log"

    started = time.monotonic()
    returncode = _run_until_exit(COMMANDS[process], env, log_path)

    log = log_path.read_text()
    assert returncode is not None, f"{process} still running after 30 s:\n{log[-2000:]}"
    assert returncode != 0, log
    assert time.monotonic() - started < 30
    assert "JWT_SECRET" in log and "secrets.token_hex(32)" in log, log
    assert PUBLISHED not in log
