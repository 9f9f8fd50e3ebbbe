"""`make run` on a terminal starts quietly and readably, and a second one, while the
first runs, stops at once, before it touches anything, saying which port to move."""

import os
import re
import socket
import subprocess

import pytest

from tests.commands import GATEWAY
from tests.e2e.newcomer import readme
from tests.e2e.newcomer.conftest import REPO
from tests.faults.processes import free_port

_PROCESS_LINE = re.compile(r"^\d\d:\d\d:\d\d (services|gateway)\.1 +\| (?P<line>.*)$", re.M)


def test_on_a_terminal_make_run_logs_plain_lines_without_known_warnings(running_shop):
    _checkout, terminal = running_shop
    shown = terminal.output()
    lines = [match["line"] for match in _PROCESS_LINE.finditer(shown)]

    assert "INFO nameko.runners: starting services: users, inventory, orders" in lines
    assert not [line for line in lines if line.startswith('{"')], "JSON log lines"
    assert "Eventlet is deprecated" not in shown


def test_without_consul_make_run_says_so_in_one_line(running_shop):
    checkout, terminal = running_shop

    about_consul = [line for line in terminal.output().splitlines() if "Consul" in line]

    assert about_consul == [
        f"No Consul at http://127.0.0.1:{checkout.consul_port}: this run goes without it "
        "(unregistered, on config.yaml's values alone)."
    ]


def _state(checkout):
    """What a run leaves in the checkout: var/'s files and when each last changed."""
    return {path.name: path.stat().st_mtime_ns for path in (checkout.path / "var").iterdir()}


@pytest.mark.parametrize("taken", ["GATEWAY_PORT", "METRICS_PORT", "both"])
def test_a_second_make_run_stops_before_touching_anything_naming_the_port(
    running_shop, taken, tmp_path
):
    checkout, _terminal = running_shop
    ports = {"GATEWAY_PORT": checkout.gateway_port, "METRICS_PORT": checkout.metrics_port}
    moved = {name: str(free_port()) for name in ports if taken not in (name, "both")}
    before = _state(checkout)
    (tmp_path / "tmp").mkdir()

    second = checkout.make("run", timeout=30, TMPDIR=str(tmp_path / "tmp"), **moved)

    assert second.returncode != 0, second.stdout
    for name, port in ports.items():
        said = f"Port {port} is taken" in second.stdout
        assert said == (name not in moved), second.stdout
        assert (f"{name}={port + 1} make run" in second.stdout) == said
    assert "migrated" not in second.stdout
    assert _state(checkout) == before
    assert not list((tmp_path / "tmp").iterdir())
    if taken == "both":
        shown = readme.console_block("$ make run").split("\n", 1)[1]
        for default, port in (("8000", checkout.gateway_port), ("9102", checkout.metrics_port)):
            shown = shown.replace(f"Port {default}", f"Port {port}")
            shown = shown.replace(f"={int(default) + 1} ", f"={port + 1} ")
        assert readme.shows(shown, second.stdout), second.stdout


def test_a_gateway_that_cannot_bind_its_port_leaves_no_metrics_folder(tmp_path):
    (tmp_path / "tmp").mkdir()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env = {
            **os.environ,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(holder.getsockname()[1]),
            "CONSUL_ENABLED": "false",
            "TMPDIR": str(tmp_path / "tmp"),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # gunicorn tries to bind five times, a second apart, then exits.
        gateway = subprocess.run(
            GATEWAY, cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )

    assert gateway.returncode != 0
    assert "Connection in use" in gateway.stderr, gateway.stderr
    assert not list((tmp_path / "tmp").iterdir())
