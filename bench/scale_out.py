"""Orders per second with one and with two processes of each service, on a
three-node RabbitMQ cluster (and, for reference, one process on the machine's node).

    python -m bench.scale_out [--seconds 15] [--buyers 12] [--output PATH]

The shop runs as production runs it, as the fault suite starts it
(``tests/faults/processes.py``): each service in its own ``nameko run``
process on PostgreSQL, one gateway under gunicorn (2 workers x 8 threads),
each process listing the cluster's nodes from another one. The fault suite's
load generator (``tests/faults/load.py``) then places orders as fast as the
shop answers, from ``--buyers`` buyers with an ``Idempotency-Key`` each, and
cancels or completes some, as in the fault scenarios. Counted: orders
accepted (201) per second over ``--seconds``, after a warm-up, and the CPU
milliseconds each took in the services, the gateway, the broker's nodes and
PostgreSQL (read from /proc). Needs root, for the cluster's nodes.
"""

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from bench import cpu
from bench.output import print_and_write
from bench.stack import databases, rabbit_cluster, vhost
from tests.faults.load import Load, customers
from tests.faults.processes import SERVICES, Shop

WARMUP_SECONDS = 3
STOCK = 10**7  # never the limit


@contextmanager
def machine_node():
    """The machine's node, in a vhost of the benchmark's own: every process on it."""
    with vhost() as amqp_uri:
        yield amqp_uri, None


@contextmanager
def cluster_nodes(cluster):
    """The cluster, each process listing its nodes from another one."""
    with cluster.vhost() as name:
        yield cluster.amqp_uri(name), cluster.amqp_uri_of_process(name)


def measure(broker, instances, args):
    with (
        broker as (amqp_uri, amqp_uri_of),
        databases() as db_uris,
        tempfile.TemporaryDirectory() as workdir,
    ):
        shop = Shop(Path(workdir), amqp_uri, db_uris, secrets.token_hex(32), amqp_uri_of)
        try:
            # More buyers sign up from one address than the gateway lets by default.
            urls = shop.start_all(
                instances=instances, gateway_env={"EMAIL_CHECK_LIMIT": "1000/hour"}
            )
            admin, people, stock = customers(urls[0], args.buyers, 4, STOCK)
            load = Load(urls, people, sorted(stock), admin, rate=1000.0)
            roots = {p.name: p.pid for p in shop.processes}
            load.start()
            time.sleep(WARMUP_SECONDS)  # load time, not a wait
            load.mark("measure")
            before, started = cpu.sample(roots), time.monotonic()
            time.sleep(args.seconds)
            after, elapsed = cpu.sample(roots), time.monotonic() - started
            load.mark("after")
            load.stop()
            shop.assert_alive()
        finally:
            shop.stop()
    created = [
        seconds
        for phase, action, status, seconds, _at in load.answers
        if phase == "measure" and action == "create" and status == 201
    ]
    failed = [
        status
        for phase, _action, status, _seconds, _at in load.answers
        if phase == "measure" and not (isinstance(status, int) and status < 500)
    ]
    per_order = cpu.per_request_ms(before, after, len(created))
    kind = {name: name.rpartition("-")[0] for name in per_order}
    return {
        "processes_per_service": instances,
        "orders_per_second": round(len(created) / elapsed, 1),
        "create_p50_ms": round(statistics.median(created) * 1000, 1) if created else None,
        "requests_failed": dict(Counter(str(status) for status in failed)),
        "cpu_ms_per_order": {
            "services": round(sum(v for k, v in per_order.items() if kind[k] in SERVICES), 2),
            "gateway": round(sum(v for k, v in per_order.items() if kind[k] == "gateway"), 2),
            "broker": per_order["broker"],
            "postgres": per_order["postgres"],
            "load_generator": per_order["load"],
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--buyers", type=int, default=12)
    parser.add_argument("--output", type=Path, help="also write the result here as JSON")
    args = parser.parse_args()
    result = {
        "buyers": args.buyers,
        "seconds": args.seconds,
        "gateways": "1 (2 workers x 8 threads)",
    }
    result["machine_node"] = [measure(machine_node(), 1, args)]
    print(json.dumps(result["machine_node"]), flush=True)
    with rabbit_cluster() as cluster:
        result["three_node_cluster"] = []
        for instances in (1, 2):
            result["three_node_cluster"].append(measure(cluster_nodes(cluster), instances, args))
            print(json.dumps(result["three_node_cluster"][-1]), flush=True)
    print_and_write(result, args.output)


if __name__ == "__main__":
    main()
