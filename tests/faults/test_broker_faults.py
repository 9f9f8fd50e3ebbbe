"""F1: the broker goes away while orders are in flight."""

import time

import pytest

from tests.faults import inject

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 10
RECOVERY_SECONDS = 30
FAIL_FAST_SECONDS = 5


@pytest.mark.broker_outage
def test_a_broker_outage_under_load_loses_nothing_and_kills_no_process(scenario):
    scenario.start()
    scenario.run(lambda: inject.broker_outage(OUTAGE_SECONDS), after=8)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert set(report["requests"]["fault"]) <= {201, 200, 409, 503, 504}, report
    assert report["slowest_failure_during_fault_s"] <= FAIL_FAST_SECONDS + 0.5, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report


def test_connections_closed_by_the_broker_under_load_lose_nothing(scenario):
    scenario.start()

    def close_every_connection():
        assert inject.close_connections(scenario.amqp_uri) > 0
        time.sleep(5)  # load goes on while every process reconnects

    scenario.run(close_every_connection, after=5)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report
