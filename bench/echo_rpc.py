"""What the RPC benchmarks share: their common options, the payload they echo, the
server process that runs their echo services, and the concurrent callers that load one.

Import it after ``eventlet.monkey_patch()``: the callers are green threads.
"""

import argparse
import signal
import time
from pathlib import Path

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy

PAYLOAD = {"sku": "SKU-1", "quantity": 3, "note": "x" * 64}


def argument_parser(doc, rounds, seconds, serve_metavar):
    """The options of an RPC benchmark: ``--rounds`` of ``--seconds`` each, ``--clients``
    callers, ``--output``, and the hidden ``--serve`` that starts its server process."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--output", type=Path, help="also write the result here as JSON")
    parser.add_argument("--serve", nargs=2, metavar=serve_metavar, help=argparse.SUPPRESS)
    return parser


def serve_until_terminated(config, services):
    """Run ``services`` in one runner, say "ready" on stdout, and stop on SIGTERM."""
    from nameko.runners import ServiceRunner

    runner = ServiceRunner(config)
    for service in services:
        runner.add_service(service)
    runner.start()
    stopped = eventlet.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.send())
    print("ready", flush=True)
    stopped.wait()
    runner.stop()


def load(amqp_uri, service, seconds, clients):
    """``(calls, elapsed seconds, latencies)``: ``clients`` callers of ``echo`` for ``seconds``."""
    latencies = []
    deadline = time.perf_counter() + seconds

    def caller():
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
            proxy = getattr(cluster, service)
            proxy.echo(PAYLOAD)  # warm the reply queue before counting
            while (started := time.perf_counter()) < deadline:
                proxy.echo(PAYLOAD)
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    pool = eventlet.GreenPool(clients)
    for _ in range(clients):
        pool.spawn(caller)
    pool.waitall()
    return len(latencies), time.perf_counter() - started, latencies
