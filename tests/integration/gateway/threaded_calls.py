"""Many OS threads sharing one ``RpcClient``, as in a gunicorn gthread worker.

The test process runs under eventlet's monkey patch, where threads are green
and cannot preempt each other; this runs in a plain interpreter instead:
``python -m tests.integration.gateway.threaded_calls <amqp uri> <threads> <calls>``.
It prints a JSON report of what came back.
"""

import json
import sys
import threading

from gateway.rpc import RpcClient


def main(amqp_uri, threads, calls):
    client = RpcClient(amqp_uri, timeout=10)
    results, failures = {}, []

    def worker(n):
        try:
            results[n] = [client.call("echo", "echo", n, i)["args"] for i in range(calls)]
        except Exception as exc:  # reported, and asserted on by the test
            failures.append(repr(exc))

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    wrong = [n for n in range(threads) if results.get(n) != [[n, i] for i in range(calls)]]
    print(json.dumps({"failures": failures, "wrong": wrong, "reply_to": client.broker().reply_to}))
    client.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
