"""The pika RPC client against real Nameko services over the real broker."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.rpc import RemoteError, RpcClient, RpcError, ServiceUnavailable, UpstreamTimeout
from tests.integration.gateway.toys import EchoService
from tests.polling import eventually


def test_a_call_carries_args_and_kwargs_and_returns_the_result(echo_service, client):
    assert client.call("echo", "echo", 1, "two", three=[3]) == {
        "args": [1, "two"],
        "kwargs": {"three": [3]},
    }


def test_context_data_reaches_the_service_as_nameko_headers(echo_service, client):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    context = {
        "call_id_stack": ["gateway.orders.create_order.req-1"],
        "user_id": "42",
        "traceparent": traceparent,
        "tracestate": "shop=1",
    }

    seen = client.call("echo", "context", context=context)

    assert seen["user_id"] == "42"
    assert seen["traceparent"] == traceparent
    assert seen["tracestate"] == "shop=1"
    assert seen["call_id_stack"][0] == "gateway.orders.create_order.req-1"
    assert seen["call_id_stack"][1].startswith("echo.context.")


def test_a_business_error_arrives_typed_with_its_message_and_details(echo_service, client):
    with pytest.raises(RemoteError) as raised:
        client.call("echo", "fail", "not_found")

    assert raised.value.exc_type == "NotFound"
    # Nameko makes every leaf of exc_args a string on the way.
    assert raised.value.exc_args == ["No such thing", {"thing_id": "7"}]
    assert raised.value.is_business_error


def test_an_unexpected_error_arrives_as_a_non_business_remote_error(echo_service, client):
    with pytest.raises(RemoteError) as raised:
        client.call("echo", "fail", "crash")

    assert raised.value.exc_type == "RuntimeError"
    assert not raised.value.is_business_error


def test_a_call_without_a_reply_in_time_raises_upstream_timeout(echo_service, client):
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        client.call("echo", "slow", 3, timeout=0.5)

    assert time.monotonic() - started < 1.5
    # The late reply is dropped, and the link keeps working for the next call.
    assert client.call("echo", "echo", "after") == {"args": ["after"], "kwargs": {}}


def test_a_service_nobody_runs_is_unavailable_at_once(rabbit_config, echo_service, client):
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        client.call("nobody", "anything", timeout=5)

    assert time.monotonic() - started < 1


def test_an_unreachable_broker_is_unavailable_at_once():
    client = RpcClient("pyamqp://guest:guest@127.0.0.1:1/", timeout=5)

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        client.call("echo", "echo")

    assert time.monotonic() - started < 1


def test_a_broker_node_that_refuses_is_passed_over_for_the_next_one(rabbit_config, echo_service):
    # A cluster's AMQP_URI, whose first node is down: nothing listens on port 1.
    client = RpcClient(f"pyamqp://guest:guest@127.0.0.1:1/;{rabbit_config['AMQP_URI']}")
    try:
        answer = eventually(lambda: _answer_or_none(client), timeout=10, interval=0.1)
    finally:
        client.close()

    assert answer == {"args": ["through the second"], "kwargs": {}}


def _answer_or_none(client):
    try:
        return client.call("echo", "echo", "through the second")
    except ServiceUnavailable:
        return None  # still connecting


def test_a_circuit_opens_after_repeated_timeouts_and_then_fails_fast(echo_service, client):
    for _ in range(3):  # the client fixture trips after three failures
        with pytest.raises(UpstreamTimeout):
            client.call("echo", "slow", 2, timeout=0.2)

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="Circuit open"):
        client.call("echo", "echo")
    assert time.monotonic() - started < 0.1


def test_business_errors_never_open_the_circuit(echo_service, client):
    for _ in range(5):
        with pytest.raises(RemoteError):
            client.call("echo", "fail", "conflict")

    assert client.call("echo", "echo", "still closed")["args"] == ["still closed"]


def test_calls_from_many_threads_to_one_service_are_in_flight_at_once(echo_service, client):
    EchoService.arrived = 0
    met = []
    threads = [
        threading.Thread(target=lambda: met.append(client.call("echo", "rendezvous", 4, 5)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Were calls to one service serialised (by the circuit breaker's lock, say),
    # the first would wait alone and give up.
    assert met == [True] * 4


def test_many_threads_share_one_reply_queue_and_each_gets_its_own_replies(
    rabbit_config, rabbit_manager, echo_service, client
):
    results, failures = {}, []

    def worker(n):
        try:
            results[n] = [client.call("echo", "echo", n, i)["args"] for i in range(10)]
        except Exception as exc:  # collected and asserted on below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert results == {n: [[n, i] for i in range(10)] for n in range(32)}
    # One connection and reply queue serve every thread, for as long as the client lives.
    queues = [q["name"] for q in rabbit_manager.get_queues(rabbit_config["vhost"])]
    assert [q for q in queues if q.startswith("rpc.reply-gateway-")] == [client.broker().reply_to]


def test_os_threads_outside_eventlet_each_get_their_own_replies(rabbit_config, echo_service):
    # The subprocess is green here, so the echo service keeps serving meanwhile.
    script = [sys.executable, "-m", "tests.integration.gateway.threaded_calls"]
    run = subprocess.run(
        [*script, rabbit_config["AMQP_URI"], "32", "20"],
        cwd=Path(__file__).resolve().parents[3],  # the repository, for -m
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])

    assert report["failures"] == []
    assert report["wrong"] == []
    assert report["reply_to"].startswith("rpc.reply-gateway-")


def test_a_request_pika_cannot_encode_fails_alone(echo_service, client):
    with pytest.raises(RpcError, match="Cannot encode"):
        client.call("echo", "context", context={"too_big": 2**64})

    assert client.call("echo", "echo", "next") == {"args": ["next"], "kwargs": {}}


def test_a_connection_closed_by_the_broker_is_replaced_with_a_fresh_reply_queue(
    rabbit_config, rabbit_manager, echo_service, client
):
    assert client.call("echo", "echo", "before")["args"] == ["before"]
    old_queue = client.broker().reply_to
    ours = eventually(
        lambda: [
            c["name"]
            for c in rabbit_manager.get_connections()
            if c.get("vhost") == rabbit_config["vhost"]
            and c.get("client_properties", {}).get("connection_name") == "shop-gateway"
        ],
        timeout=10,
        interval=0.1,
    )
    assert len(ours) == 1  # one connection serves the client
    rabbit_manager.delete_connection(ours[0])  # as an operator, or a broker failing over

    def answers():
        try:
            return client.call("echo", "echo", "after", timeout=1)
        except (ServiceUnavailable, UpstreamTimeout):
            return None  # still reconnecting

    assert eventually(answers, timeout=10, interval=0.1) == {"args": ["after"], "kwargs": {}}
    assert client.broker().reply_to != old_queue
