"""What a quorum RPC request queue costs against a classic one, side by side.

    python -m bench.rpc_queues [--rounds 3] [--seconds 5] [--clients 8] [--no-cluster]

Two echo services run in one server process: one on the shop's ``rpc``
(``rpc-<service>`` a quorum queue, ``extensions.rpc``), one on nameko's own
(a classic queue). Concurrent ``ClusterRpcProxy`` callers load each in turn,
alternating which goes first, for ``--rounds`` rounds: on the machine's
RabbitMQ node, then on a three-node cluster of the benchmark's own
(``scripts/rabbit-cluster.sh``, run as root), where a quorum queue is
replicated on every node. Reported per variant: calls/s, latency p50 and p99,
and CPU milliseconds per call of the server process and of the broker (all of
its nodes, read from /proc), as medians over the rounds with their spread, and
the quorum-to-classic ratios.
"""

import eventlet

eventlet.monkey_patch()

import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

import nameko.rpc  # noqa: E402

from bench.cpu import cpu_seconds  # noqa: E402
from bench.echo_rpc import argument_parser, load, serve_until_terminated  # noqa: E402
from bench.output import print_and_write  # noqa: E402
from bench.stack import rabbit_cluster  # noqa: E402
from extensions.rpc import rpc  # noqa: E402

MACHINE_NODE = ("rabbit@localhost", "pyamqp://guest:guest@localhost:5672/")
VARIANTS = ("classic", "quorum")


def make_services(suffix):
    class Classic:
        name = f"bench_classic_{suffix}"

        @nameko.rpc.rpc
        def echo(self, payload):
            return payload

    class Quorum:
        name = f"bench_quorum_{suffix}"

        @rpc
        def echo(self, payload):
            return payload

    return Classic, Quorum


def serve(suffix, amqp_uri):
    """The server process: both services in one runner until SIGTERM."""
    serve_until_terminated({"AMQP_URI": amqp_uri, "max_workers": 10}, make_services(suffix))


def broker_pid(node):
    done = subprocess.run(
        ["rabbitmqctl", "-n", node, "eval", "os:getpid()."],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout.strip().strip('"'))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(label, amqp_uri, broker_pids, args):
    """Rounds of both variants on one broker; returns the summary of each and their ratios."""
    suffix = uuid.uuid4().hex[:8]
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.rpc_queues", "--serve", suffix, amqp_uri],
        stdout=subprocess.PIPE,
        text=True,
    )
    rounds = {variant: [] for variant in VARIANTS}
    try:
        assert server.stdout.readline().strip() == "ready", "the bench server did not start"
        for variant in VARIANTS:  # warm-up, not counted
            load(amqp_uri, f"bench_{variant}_{suffix}", 1, args.clients)
        for number in range(args.rounds):
            # Alternate which goes first, so neither always gets the warmer machine.
            order = VARIANTS if number % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                server_before, broker_before = cpu_seconds([server.pid]), cpu_seconds(broker_pids)
                calls, elapsed, latencies = load(
                    amqp_uri, f"bench_{variant}_{suffix}", args.seconds, args.clients
                )
                rounds[variant].append(
                    {
                        "calls_per_second": calls / elapsed,
                        "p50_ms": percentile(latencies, 0.50) * 1000,
                        "p99_ms": percentile(latencies, 0.99) * 1000,
                        "server_cpu_ms_per_call": (cpu_seconds([server.pid]) - server_before)
                        * 1000
                        / calls,
                        "broker_cpu_ms_per_call": (cpu_seconds(broker_pids) - broker_before)
                        * 1000
                        / calls,
                    }
                )
            print(
                f"{label} round {number + 1}: "
                + ", ".join(f"{v} {rounds[v][-1]['calls_per_second']:.0f} calls/s" for v in order),
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    summary = {variant: _summarise(rounds[variant]) for variant in VARIANTS}
    summary["quorum_to_classic"] = {
        metric: round(
            summary["quorum"][metric]["median"] / summary["classic"][metric]["median"], 3
        )
        for metric in summary["classic"]
    }
    return summary


def _summarise(rounds):
    """Median over the rounds of each figure, with its spread (lowest and highest)."""
    return {
        metric: {
            "median": round(statistics.median(r[metric] for r in rounds), 3),
            "spread": [
                round(min(r[metric] for r in rounds), 3),
                round(max(r[metric] for r in rounds), 3),
            ],
        }
        for metric in rounds[0]
    }


def main():
    parser = argument_parser(__doc__, 3, 5.0, ("SUFFIX", "AMQP_URI"))
    parser.add_argument("--no-cluster", action="store_true", help="the machine's node only")
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return

    node, amqp_uri = MACHINE_NODE
    result = {
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "single_node": measure("single node", amqp_uri, [broker_pid(node)], args),
    }
    if not args.no_cluster:
        with rabbit_cluster() as cluster, cluster.vhost() as vhost:
            pids = [broker_pid(n.name) for n in cluster.nodes]
            # Server and callers on the first node: the quorum queue's leader is
            # there, its followers on the other two.
            uri = cluster.amqp_uri(vhost)
            result["three_node_cluster"] = measure("cluster", uri, pids, args)
    print_and_write(result, args.output)


if __name__ == "__main__":
    main()
