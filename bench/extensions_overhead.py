"""RPC throughput of one Nameko service with every extension on, versus off.

    python -m bench.extensions_overhead [--rounds 5] [--seconds 4] [--clients 8]

Both variants of the same echo service run side by side in one server process
(``nameko run`` style, its own CPU); this process loads them in alternating
rounds with the same number of concurrent callers, so drift on the machine
hits both alike. "On" means Tracing (every call sampled, spans batched and
exported over OTLP/HTTP to a collector stand-in, a third process that
accepts and drops them), Metrics (served on a port), ConsulRegistration
(registered with an in-process Consul double, heartbeats running) and
LogContext. Prints each round, the medians and the ratio.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from nameko.rpc import rpc  # noqa: E402

from bench.cpu import cpu_seconds  # noqa: E402
from bench.echo_rpc import argument_parser, load, serve_until_terminated  # noqa: E402
from bench.output import print_and_write  # noqa: E402
from extensions.jsonlog import LogContext  # noqa: E402
from extensions.metrics import Metrics  # noqa: E402
from extensions.registration import ConsulRegistration  # noqa: E402
from extensions.tracing import Tracing  # noqa: E402

AMQP_URI = os.environ.get("AMQP_URI", "pyamqp://guest:guest@localhost:5672/")


def make_services(suffix):
    class Plain:
        name = f"bench_plain_{suffix}"

        @rpc
        def echo(self, payload):
            return payload

    class Instrumented(Plain):
        name = f"bench_instrumented_{suffix}"
        tracer = Tracing()
        metrics = Metrics()
        registration = ConsulRegistration()
        log_context = LogContext()

    return Plain, Instrumented


def sink(port):
    """A collector stand-in: accept every OTLP/HTTP export, keep nothing."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = [0]

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    def report(*_):
        print(received[0], flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    server = ThreadingHTTPServer(("127.0.0.1", port), Accept)
    print("ready", flush=True)
    server.serve_forever()


def serve(suffix, metrics_port, exporter, otlp_endpoint, sample_ratio):
    """The server process: both services in one runner until SIGTERM."""
    from tests.fakes.consul import ConsulDouble

    consul = ConsulDouble().start()
    config = {
        "AMQP_URI": AMQP_URI,
        "max_workers": 10,
        "TRACING": {
            "EXPORTER": exporter,
            "OTLP_ENDPOINT": otlp_endpoint,
            "SAMPLE_RATIO": sample_ratio,
        },
        "METRICS": {"PORT": metrics_port},
        "CONSUL": {"ENABLED": True, "HOST": consul.host, "PORT": consul.port, "TTL_SECONDS": 5},
    }
    serve_until_terminated(config, make_services(suffix))
    consul.stop()


def main():
    parser = argument_parser(__doc__, 5, 4.0, ("SUFFIX", "METRICS_PORT"))
    parser.add_argument("--exporter", default="otlp", help="TRACING.EXPORTER in the server")
    parser.add_argument("--sample-ratio", type=float, default=1.0, help="TRACING.SAMPLE_RATIO")
    parser.add_argument("--otlp-endpoint", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return
    if args.serve:
        serve(
            args.serve[0], int(args.serve[1]), args.exporter, args.otlp_endpoint, args.sample_ratio
        )
        return

    from nameko.testing.utils import find_free_port

    suffix, sink_port = uuid.uuid4().hex[:8], find_free_port()
    command = [sys.executable, "-m", "bench.extensions_overhead", "--exporter", args.exporter]
    command += ["--sample-ratio", str(args.sample_ratio)]
    endpoint = f"http://127.0.0.1:{sink_port}/v1/traces"
    collector = subprocess.Popen([*command, "--sink", str(sink_port)], stdout=subprocess.PIPE)
    server = subprocess.Popen(
        [*command, "--otlp-endpoint", endpoint, "--serve", suffix, str(find_free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert collector.stdout.readline().strip() == b"ready", "the collector did not start"
        assert server.stdout.readline().strip() == "ready", "the bench server did not start"
        plain, instrumented = (f"bench_plain_{suffix}", f"bench_instrumented_{suffix}")
        load(AMQP_URI, plain, 1, args.clients)  # warm-up, not counted
        load(AMQP_URI, instrumented, 1, args.clients)
        results = {"off": [], "on": []}
        # Server CPU per call: steadier than calls/s when other work shares the machine.
        cpu = {"off": [], "on": []}
        for round_number in range(args.rounds):
            # Alternate which goes first, so neither always gets the warmer machine.
            order = [("off", plain), ("on", instrumented)]
            for label, service in order if round_number % 2 == 0 else order[::-1]:
                before = cpu_seconds([server.pid])
                calls, elapsed, _latencies = load(AMQP_URI, service, args.seconds, args.clients)
                results[label].append(calls / elapsed)
                cpu[label].append((cpu_seconds([server.pid]) - before) / calls * 1000)
            print(
                f"round {round_number + 1}: off {results['off'][-1]:.0f} calls/s "
                f"({cpu['off'][-1]:.2f} ms CPU/call), on {results['on'][-1]:.0f} calls/s "
                f"({cpu['on'][-1]:.2f} ms CPU/call)",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        collector.terminate()
        exports = int(collector.stdout.read().strip() or 0)
        collector.wait(timeout=30)
    off, on = statistics.median(results["off"]), statistics.median(results["on"])
    summary = {
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "exporter": args.exporter,
        "sample_ratio": args.sample_ratio,
        "otlp_export_requests_received": exports,
        "median_calls_per_second_off": round(off, 1),
        "median_calls_per_second_on": round(on, 1),
        "ratio_on_to_off": round(on / off, 3),
        "throughput_loss_percent": round(100 * (1 - on / off), 1),
        "median_server_cpu_ms_per_call_off": round(statistics.median(cpu["off"]), 3),
        "median_server_cpu_ms_per_call_on": round(statistics.median(cpu["on"]), 3),
    }
    print_and_write(summary, args.output)


if __name__ == "__main__":
    main()
