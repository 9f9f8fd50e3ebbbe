"""``python -m bench.gateway_costs``: what each gateway feature costs in CPU per request.

The throughput benchmark (``bench.gateway``) shows that on two shared cores
the CPU a request burns decides throughput. This one takes the gateway apart:
the same ``GET /api/products/<id>`` through the Flask app in this process
(Flask's test client, one thread, real services, broker and Redis), with one
feature after another turned off, so each row's difference with the one above
is that feature's price. The last rows are the floors: the RPC call alone, and
a Flask route answering a constant through the same test client.
"""

import logging
import os
import statistics
import sys
import time
from pathlib import Path

from flask import Flask

from bench.gateway import seed
from bench.stack import shop

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
OUT = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))
_ACCESS_LOG = logging.getLogger("gateway.access")
_UNSAMPLED = {"EXPORTER": "none", "SAMPLE_RATIO": 0.0}


def _cpu_ms_per_call(call):
    for _ in range(50):  # warm caches and connections
        call()
    started = time.process_time()
    for _ in range(REQUESTS):
        call()
    return (time.process_time() - started) * 1000 / REQUESTS


def _get(client, path, access_log=True):
    def call():
        _ACCESS_LOG.disabled = not access_log
        if client.get(path).status_code != 200:
            raise RuntimeError(f"GET {path} failed")

    return call


def variants(product_id):
    from gateway.app import create_app

    path = f"/api/products/{product_id}"
    base = {"RATE_LIMIT": "1000000000/minute", "RATE_LIMIT_PREFIX": f"costs-{os.getpid()}"}
    full = create_app({**base, "REDIS_URI": "redis://127.0.0.1:6379/0"})
    memory = create_app(base)
    unlimited = create_app({**base, "RATELIMIT_ENABLED": False})
    untraced = create_app({**base, "RATELIMIT_ENABLED": False, "TRACING": _UNSAMPLED})
    constant = Flask("constant")
    constant.get("/api/products/<int:product_id>")(lambda product_id: {"id": product_id})
    rpc = full.extensions["shop.rpc"]
    # The lines are formatted and written as in production, but not onto the terminal.
    for handler in logging.getLogger("gateway").handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
    return {
        "everything on (as deployed: limits in Redis)": _get(full.test_client(), path),
        "rate limits in memory instead of Redis": _get(memory.test_client(), path),
        "no rate limit": _get(unlimited.test_client(), path),
        "no rate limit, no access log": _get(unlimited.test_client(), path, access_log=False),
        "... and no trace sampled": _get(untraced.test_client(), path, access_log=False),
        "RPC call alone (no HTTP)": lambda: rpc.call("inventory", "get_product", product_id),
        "Flask route answering a constant": _get(constant.test_client(), path),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with shop() as (_processes, workdir):
        os.environ["SHOP_CONFIG"] = str(workdir / "config.yaml")
        product_id, _token = seed()
        calls = variants(product_id)
        samples = {name: [] for name in calls}
        for _ in range(ROUNDS):  # alternate, so that background noise spreads evenly
            for name, call in calls.items():
                samples[name].append(_cpu_ms_per_call(call))
        _ACCESS_LOG.disabled = False
    lines = [
        f"Gateway CPU per `GET /api/products/<id>`, in process, median of {ROUNDS} rounds "
        f"of {REQUESTS} requests (`python -m bench.gateway_costs`).",
        "",
        "| what runs | CPU ms/request |",
        "|---|---:|",
        *(f"| {name} | {statistics.median(ms):.3f} |" for name, ms in samples.items()),
    ]
    text = "\n".join(lines) + "\n"
    (OUT / "gateway_costs.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
