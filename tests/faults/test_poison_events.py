"""F9: events that can never succeed, beside a saga that must keep flowing."""

import time

import pytest
from nameko.standalone.events import event_dispatcher

from extensions.envelopes import envelope
from tests.faults.invariants import queue_depths
from tests.polling import eventually
from tools import dead_letters

pytestmark = pytest.mark.faults

QUEUE = "evt-orders-order_created--inventory.reserve_stock"
RETRY_DELAYS = "0.5 1 2"  # short, so the test sees the end of the retries
NO_SUCH_ORDER = 10**9  # an order the load cannot have placed (inventory would answer it)


def test_poison_events_are_dead_lettered_and_replayable_while_orders_keep_flowing(scenario):
    scenario.shop.base_env["EVENT_RETRY_DELAYS_SECONDS"] = RETRY_DELAYS
    scenario.start()
    dispatch = event_dispatcher({"AMQP_URI": scenario.amqp_uri})
    dlq = f"dlq.{QUEUE}"

    def poison():
        # Bad input: no envelope at all. Dead-lettered at once.
        dispatch("orders", "order_created", {"order_id": 1})
        eventually(lambda: queue_depths(scenario.amqp_uri, dlq)[dlq] == 1, timeout=10)
        malformed_at = time.monotonic()
        # A valid envelope whose data breaks the handler: an unexpected error,
        # retried after each delay, then dead-lettered.
        broken = {"order_id": NO_SUCH_ORDER, "items": "not a list"}
        dispatch("orders", "order_created", envelope(broken))
        eventually(lambda: queue_depths(scenario.amqp_uri, dlq)[dlq] == 2, timeout=30)
        return time.monotonic() - malformed_at

    retried_for = []
    scenario.run(lambda: retried_for.append(poison()))
    report = scenario.verify(dead_letters_allowed=True)

    assert retried_for[0] >= 3.5, "retried after 0.5 + 1 + 2 s before giving up"
    assert report["dead_letters"] == {dlq: 2}
    listed = dead_letters.counts(scenario.amqp_uri, dead_letters.handler_queue_names())
    assert listed[dlq] == 2
    assert dead_letters.replay(scenario.amqp_uri, dlq) == 2
    # Both fail again: the malformed one at once, the other after its retries.
    eventually(lambda: queue_depths(scenario.amqp_uri, dlq)[dlq] == 2, timeout=30)
