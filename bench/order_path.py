"""``python -m bench.order_path [--baseline REV]``: CPU per confirmed order, by process.

Places orders of one line through the gateway (gunicorn, 2 x 16) at
concurrency 1 and 32, waits until every one is confirmed, and reads
``GET /api/products/<id>`` at concurrency 8 (``bench.order_measure`` says what
is read and when). With ``--baseline REV`` the revision runs beside the working
tree, each a whole shop of its own (``bench.order_stack``) on the same broker
and PostgreSQL server, and the two take turns ``BENCH_RUNS`` times, each run
A B B A (the next B A A B), so that the load of other tenants of this machine,
and its changes within a run, fall on both alike.
``bench.order_floor`` then does the same saga with raw pika and psycopg2.
``--variant NAME=REV`` (repeatable) runs more revisions in the same turns, for
instance the working tree less one change each, to measure what each change saves.

Results: ``bench/results/order_path.json``, ``.md`` (the table) and ``.png``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import load, order_floor
from bench.gateway import seed
from bench.order_measure import window
from bench.order_report import write_report
from bench.order_stack import Tree, running_shop
from bench.stack import BIN, REPO

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# kind -> (orders?, concurrency, requests per window)
KINDS = {
    "orders_c1": (True, 1, int(os.environ.get("BENCH_ORDERS_C1", "150"))),
    "orders_c32": (True, 32, int(os.environ.get("BENCH_ORDERS_C32", "600"))),
    "reads_c8": (False, 8, int(os.environ.get("BENCH_READS", "2000"))),
}
FLOOR_ORDERS = int(os.environ.get("BENCH_ORDERS_C32", "600"))
if "BENCH_KINDS" in os.environ:
    KINDS = {kind: KINDS[kind] for kind in os.environ["BENCH_KINDS"].split(",")}
OUT = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))


def _git(*args, cwd=REPO):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@contextmanager
def revision_tree(name, revision):
    """A worktree of ``revision``; it shares this virtualenv when its pins are the same."""
    sha = _git("rev-parse", f"{revision}^{{commit}}")
    path = Path(tempfile.mkdtemp(prefix=f"shop-{name}-{sha[:8]}-"))
    _git("worktree", "add", "--detach", str(path), sha)
    try:
        pins = subprocess.run(
            ["git", "diff", "--quiet", sha, "--", "pyproject.toml", "constraints.txt"], cwd=REPO
        )
        bin_dir = BIN
        if pins.returncode != 0:
            subprocess.run(["make", "install"], cwd=path, check=True)
            bin_dir = path / ".venv" / "bin"
        yield Tree(name, path, bin_dir), sha
    finally:
        _git("worktree", "remove", "--force", str(path))


def requests_for(shop):
    product_id, token = seed(shop.base_url)
    host = shop.base_url.removeprefix("http://")
    body = json.dumps({"items": [{"product_id": product_id, "quantity": 1}]}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    order = load.encode_request("POST", "/api/orders", host, headers, body)
    read = load.encode_request("GET", f"/api/products/{product_id}", host)
    return {"orders_c1": order, "orders_c32": order, "reads_c8": read}


def _print(row):
    fields = ("per_second", "confirm_p50_ms", "http_p50_ms", "cpu_total_ms", "cpu_services_ms")
    shown = " ".join(f"{f}={row[f]}" for f in fields if f in row)
    print(f"run {row['run']} {row['kind']:10} {row['variant']:8} {shown}", flush=True)


def measure(shops, runs):
    made = {shop.tree.name: requests_for(shop) for shop in shops}
    for shop in shops:  # pools, caches and imports warm before anything counts
        window(shop, made[shop.tree.name]["orders_c32"], 100, 8, orders=True)
        window(shop, made[shop.tree.name]["reads_c8"], 300, 8, orders=False)
    windows = []
    for run in range(runs):
        for kind, (orders, concurrency, total) in KINDS.items():
            turn = run % len(shops)  # each shop goes first in its turn
            order = shops[turn:] + shops[:turn]
            # A B B A: a machine that slows down or speeds up in the course of a run
            # weighs on every shop alike (the report takes each run's mean per shop).
            for shop in order + order[::-1]:
                row = window(shop, made[shop.tree.name][kind], total, concurrency, orders)
                windows.append({"variant": shop.tree.name, "kind": kind, "run": run, **row})
                _print(windows[-1])
    return windows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to run beside the working tree")
    parser.add_argument(
        "--variant", action="append", default=[], help="NAME=REV: one more revision to run"
    )
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-floor", action="store_true", help="skip bench.order_floor")
    args = parser.parse_args(argv)
    meta = {"ours": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain"))}
    meta["kinds"] = {k: {"concurrency": c, "requests": n} for k, (_, c, n) in KINDS.items()}
    meta["runs"], meta["floor"] = args.runs, not args.no_floor
    with ExitStack() as stack:
        trees = [Tree("ours", REPO, BIN)]
        if args.baseline:
            tree, meta["baseline"] = stack.enter_context(revision_tree("baseline", args.baseline))
            trees.insert(0, tree)
        meta["variants"] = {}
        for name, _, revision in (v.partition("=") for v in args.variant):
            tree, meta["variants"][name] = stack.enter_context(revision_tree(name, revision))
            trees.append(tree)
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        shops = [stack.enter_context(running_shop(tree, workdir)) for tree in trees]
        windows = measure(shops, args.runs)
    floor = None if args.no_floor else order_floor.measure(FLOOR_ORDERS)
    OUT.mkdir(parents=True, exist_ok=True)
    print(write_report(windows, floor, meta, OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
