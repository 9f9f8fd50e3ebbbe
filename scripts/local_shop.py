"""Checks and chores for the shop that `make run` starts on this machine.

    python scripts/local_shop.py preflight   # make run, first: fails on a taken port,
                                             # prints CONSUL_ENABLED for the run
    python scripts/local_shop.py reset       # make reset: empty the data

Both read config.yaml with the environment, as the processes do, and the
gateway's address from gateway/gunicorn_conf.py.
"""

import argparse
import socket
import sys

import amqp.exceptions
from kombu import Connection
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url

from extensions.config import load_config
from extensions.events import dead_letter_queue, retry_delays, retry_queue
from extensions.registration import _enabled, consul_client, overlay_consul_kv
from shop.contract import SERVICES
from tools.dead_letters import handler_queue_names


def listening_ports(config):
    """``[(variable, address, port)]`` that make run's processes listen on."""
    from gateway import gunicorn_conf

    host, port = gunicorn_conf.bind.rsplit(":", 1)
    ports = [("GATEWAY_PORT", host, int(port))]
    metrics = config.get("METRICS") or {}
    if int(metrics.get("PORT") or 0):
        address = str(metrics.get("ADDRESS") or "0.0.0.0")
        ports.append(("METRICS_PORT", address, int(metrics["PORT"])))
    return ports


def taken_ports(config):
    taken = []
    for variable, address, port in listening_ports(config):
        with socket.socket() as sock:
            # As gunicorn and prometheus_client bind: a port left in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                taken.append((variable, port))
    return taken


def ask_consul(config):
    """Whether a Consul answers: if not, this run goes without it (no registration, no
    config from KV), and that is said here, once, instead of by every process, each on its
    own. Then KV's values over ``config``, as the processes will see them."""
    consul_config = config.setdefault("CONSUL", {})
    if _enabled(consul_config.get("ENABLED", False)):
        client = consul_client(consul_config)
        try:
            client.status.leader()
        except Exception:
            consul_config["ENABLED"] = False
            print(
                f"No Consul at {client.http.base_uri}: this run goes without it "
                "(unregistered, on config.yaml's values alone).",
                file=sys.stderr,
            )
    overlay_consul_kv(config)


def preflight(config):
    taken = taken_ports(config)
    for variable, port in taken:
        print(
            f"Port {port} is taken (another make run?). Stop that, or choose another port: "
            f"{variable}={port + 1} make run",
            file=sys.stderr,
        )
    if taken:
        return 1
    ask_consul(config)
    print("true" if _enabled(config["CONSUL"]["ENABLED"]) else "false")
    return 0


def empty_databases(config):
    """Drop every table of each service's database; ``make run`` migrates them again."""
    for service in SERVICES:
        db_uri = config["DB_URIS"][f"{service}:Base"]
        engine = create_engine(db_uri)
        try:
            tables = MetaData()
            tables.reflect(engine)
            tables.drop_all(engine)
        finally:
            engine.dispose()
        print(f"{service}: emptied {make_url(db_uri).render_as_string(hide_password=True)}")


def purge_event_queues(config):
    """Events in flight, waiting retries and dead letters belong to the data they were
    about: kept, they would act on the new data's orders and users of the same ids."""
    handler_queues = handler_queue_names()
    names = [
        *handler_queues,
        *(dead_letter_queue(name).name for name in handler_queues),
        *(retry_queue(delay).name for delay in sorted(set(retry_delays(config)))),
    ]
    purged = 0
    with Connection(config["AMQP_URI"]) as connection:
        for name in names:
            channel = connection.channel()
            try:
                purged += channel.queue_purge(name) or 0
            except amqp.exceptions.NotFound:
                continue  # never declared: no service has run on this vhost yet
            finally:
                if channel.is_open:
                    channel.close()
    print(f"event queues: {purged} message(s) purged")


def reset(config):
    if taken_ports(config):
        print("The shop is running: stop make run first.", file=sys.stderr)
        return 1
    ask_consul(config)  # KV may name other databases or another broker
    empty_databases(config)
    purge_event_queues(config)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["preflight", "reset"])
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    # The file's values first: a taken port fails before anything asks Consul.
    config = load_config(args.config, consul_kv=False)
    return preflight(config) if args.command == "preflight" else reset(config)


if __name__ == "__main__":
    sys.exit(main())
