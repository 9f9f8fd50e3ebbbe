"""``python -m bench.gateway``: our gateway and two peers over the same services.

Ours runs twice: as shipped (2 gunicorn workers x 16 threads) and with one
worker of four threads, which on these two shared cores spends less CPU per
request (fewer threads contending for the GIL). A control runs beside them:
Flask and the same pika client with none of the gateway's features
(``bench/bare_gateway.py``), to show what those features cost under load.

For each route and concurrency, every gateway gets the same closed-loop load
in turn (the order rotates between runs, so background work such as the
order saga weighs on all alike); the median of the runs is reported. At
concurrency 32 the CPU each component burns per request is sampled too.
"""

import json
import os
import statistics
import sys
from pathlib import Path

import requests

from bench import cpu, load
from bench.stack import PORTS, shop

CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,8,32,64").split(",")]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "2.5"))
GATEWAYS = ["ours", "ours_1x4", "bare", "proxy_pool", "nameko_http"]
LABELS = {
    "ours": "Flask + pika (ours, 2 workers x 16 threads)",
    "ours_1x4": "Flask + pika (ours, 1 worker x 4 threads)",
    "bare": "Flask + pika, no features (control, 2 x 16)",
    "proxy_pool": "Flask + ClusterRpcProxy pool (2 x 16)",
    "nameko_http": "Nameko @http + RpcProxy",
}
OUT = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))


def seed(base=f"http://127.0.0.1:{PORTS['ours']}"):
    """A product with plenty of stock and a customer's token, made through our gateway."""
    admin = requests.post(
        f"{base}/api/auth/token",
        json={"email": "admin@example.com", "password": "bench-admin-password"},
        timeout=30,
    ).json()["access_token"]
    product = requests.post(
        f"{base}/api/products",
        json={"sku": "BENCH-1", "name": "Bench", "price": "1.00", "stock": 1_000_000_000},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    ).json()
    requests.post(
        f"{base}/api/users",
        json={"email": "bench@example.com", "name": "Bench", "password": "bench-password"},
        timeout=30,
    ).raise_for_status()
    token = requests.post(
        f"{base}/api/auth/token",
        json={"email": "bench@example.com", "password": "bench-password"},
        timeout=30,
    ).json()["access_token"]
    return product["id"], token


def scenarios(product_id, token):
    body = json.dumps({"items": [{"product_id": product_id, "quantity": 1}]}).encode()
    return {
        "GET /api/products/<id>": lambda host: load.encode_request(
            "GET", f"/api/products/{product_id}", host
        ),
        "POST /api/orders": lambda host: load.encode_request(
            "POST",
            "/api/orders",
            host,
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            body,
        ),
    }


def measure(processes, routes):
    results, profiles = {}, {}
    roots = {g: processes.pid(g) for g in GATEWAYS} | {"services": processes.pid("services")}
    for route, make_request in routes.items():
        for concurrency in CONCURRENCIES:
            samples = {g: [] for g in GATEWAYS}
            for run in range(RUNS):
                turn = run % len(GATEWAYS)
                order = GATEWAYS[turn:] + GATEWAYS[:turn]
                for gateway in order:
                    host = f"127.0.0.1:{PORTS[gateway]}"
                    before = cpu.sample(roots)
                    rps, p50, p99, errors = load.run(
                        "127.0.0.1", PORTS[gateway], make_request(host), concurrency, SECONDS
                    )
                    after = cpu.sample(roots)
                    samples[gateway].append((rps, p50, p99, errors))
                    if concurrency == 32 and run == RUNS - 1:
                        used = cpu.per_request_ms(before, after, int(rps * SECONDS))
                        profiles[(route, gateway)] = {
                            "gateway_ms": used[gateway],
                            "services_ms": used["services"],
                            "broker_ms": used["broker"],
                            "postgres_ms": used["postgres"],
                            "load_ms": used["load"],
                        }
            for gateway, rows in samples.items():
                results[(route, concurrency, gateway)] = {
                    "rps": statistics.median(r[0] for r in rows),
                    "p50_ms": statistics.median(r[1] for r in rows) * 1000,
                    "p99_ms": statistics.median(r[2] for r in rows) * 1000,
                    "errors": max(r[3] for r in rows),
                }
                row = results[(route, concurrency, gateway)]
                print(
                    f"{route:24} c={concurrency:<3} {LABELS[gateway]:44} "
                    f"{row['rps']:8.1f}/s p50 {row['p50_ms']:7.1f} ms "
                    f"p99 {row['p99_ms']:7.1f} ms errors {row['errors']:.1%}",
                    flush=True,
                )
    return results, profiles


def main():
    from bench.gateway_report import write_report

    OUT.mkdir(parents=True, exist_ok=True)
    with shop() as (processes, _workdir):
        product_id, token = seed()
        results, profiles = measure(processes, scenarios(product_id, token))
    text = write_report(results, profiles, OUT, CONCURRENCIES, GATEWAYS, LABELS, RUNS, SECONDS)
    print(text)
    failed = [k for k, v in results.items() if v["errors"] > 0.01]
    if failed:
        print(f"error rate above 1% in: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
