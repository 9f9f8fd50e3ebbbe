"""Faults injected as DESIGN.md's "Failure semantics" allows on a shared machine:
the broker is always started again, and only the test's own database and
processes are touched."""

import time
from urllib.parse import quote, unquote, urlparse

import requests

from shop.amqp_uri import node_uris
from tests.rabbitmqctl import AUTH, MANAGEMENT, rabbitmqctl, start_app


def vhost_of(amqp_uri):
    """The vhost of ``amqp_uri`` (of its first node: every node names the same)."""
    return unquote(urlparse(node_uris(amqp_uri)[0]).path[1:]) or "/"


def queues(amqp_uri, management=MANAGEMENT):
    """The management API's view of each queue in the vhost of ``amqp_uri``."""
    response = requests.get(
        f"{management}/queues/{quote(vhost_of(amqp_uri), safe='')}", auth=AUTH, timeout=10
    )
    response.raise_for_status()
    return response.json()


def broker_outage(during):
    """Stop the broker's application, call ``during()``, then start it again (always).

    ``during`` is a number of seconds to stay down, or a function to run meanwhile.
    """
    rabbitmqctl("stop_app")
    try:
        during() if callable(during) else time.sleep(during)  # the outage itself
    finally:
        start_app()


def connections(amqp_uri):
    """The management API's records of the connections to the vhost of ``amqp_uri``."""
    quoted = quote(vhost_of(amqp_uri), safe="")
    return requests.get(f"{MANAGEMENT}/vhosts/{quoted}/connections", auth=AUTH, timeout=10).json()


def close_connection(name):
    """Force-close the connection the broker calls ``name``; whether the broker did."""
    return requests.delete(
        f"{MANAGEMENT}/connections/{quote(name, safe='')}",
        auth=AUTH,
        headers={"X-Reason": "fault injection"},
        timeout=10,
    ).ok


def close_connections(amqp_uri):
    """Force-close every connection to the vhost of ``amqp_uri``; returns how many."""
    listed = connections(amqp_uri)
    for connection in listed:
        close_connection(connection["name"])
    return len(listed)


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


def workers_in_flight(process):
    """Workers a service process is running now, read from its ``/metrics``; 0 if it
    does not answer."""
    try:
        text = requests.get(
            f"http://127.0.0.1:{process.env['METRICS_PORT']}/metrics", timeout=1
        ).text
    except requests.RequestException:
        return 0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("nameko_workers_in_flight{")
    )


def when_busy(process, timeout=5.0):
    """Wait until ``process`` has a worker in flight, so that a signal lands on work
    under way; returns how many it had (0 if none within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not (busy := workers_in_flight(process)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return int(busy)


def redeliveries(amqp_uri):
    """``{queue: messages delivered again}`` in the vhost of ``amqp_uri`` (management API)."""
    counts = {q["name"]: q.get("message_stats", {}).get("redeliver", 0) for q in queues(amqp_uri)}
    return {name: n for name, n in counts.items() if n}
