"""What the RPC benchmarks share: the payload they echo, the server process that
runs their echo services, and the concurrent callers that load one of them.

Import it after ``eventlet.monkey_patch()``: the callers are green threads.
"""

import signal
import time

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy

PAYLOAD = {"sku": "SKU-1", "quantity": 3, "note": "x" * 64}


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
