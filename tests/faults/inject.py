"""Faults injected as DESIGN.md's "Failure semantics" allows on a shared machine:
the broker is always started again, and only the test's own database and
processes are touched."""

import subprocess
import time
from urllib.parse import unquote, urlparse

import requests

from tests.polling import eventually

MANAGEMENT = "http://127.0.0.1:15672/api"
AUTH = ("guest", "guest")


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def _management_answers():
    try:
        return requests.get(f"{MANAGEMENT}/overview", auth=AUTH, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def broker_outage(during):
    """Stop the broker's application, call ``during()``, then start it again (always).

    ``during`` is a number of seconds to stay down, or a function to run meanwhile.
    """
    _rabbitmqctl("stop_app")
    try:
        during() if callable(during) else time.sleep(during)  # the outage itself
    finally:
        _rabbitmqctl("start_app")
        eventually(_management_answers, timeout=60, interval=0.5)


def close_connections(amqp_uri):
    """Force-close every connection to the vhost of ``amqp_uri``; returns how many."""
    vhost = unquote(urlparse(amqp_uri).path[1:]) or "/"
    quoted = requests.utils.quote(vhost, safe="")
    connections = requests.get(
        f"{MANAGEMENT}/vhosts/{quoted}/connections", auth=AUTH, timeout=10
    ).json()
    for connection in connections:
        requests.delete(
            f"{MANAGEMENT}/connections/{requests.utils.quote(connection['name'], safe='')}",
            auth=AUTH,
            headers={"X-Reason": "fault injection"},
            timeout=10,
        )
    return len(connections)


def database_outage(admin_execute, db_uri, during):
    """Refuse new connections to one database and end its sessions, during ``during``
    (seconds, or a function to run meanwhile), then allow them again (always)."""
    name = urlparse(db_uri).path.lstrip("/")
    admin_execute(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )
    try:
        during() if callable(during) else time.sleep(during)  # the outage itself
    finally:
        admin_execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
