"""Faults of a three-node RabbitMQ cluster under order load (issue 11).

Each process lists the cluster's nodes starting from another one, so the
shop's connections and the leaders of its quorum queues spread over the
nodes. In each scenario no process exits, calls fail with 503/504 or
succeed, the shop recovers fully within 30 s, and nothing is lost or doubled
(``Scenario.verify``).
"""

import json
import time
from datetime import datetime

import pytest

from tests.faults.inject import vhost_of

pytestmark = [pytest.mark.faults, pytest.mark.rabbit_cluster]

RECOVERY_SECONDS = 30
DOWN_SECONDS = 5  # a stopped node stays down this long under load before it starts again
PAUSE_SECONDS = 20
HEARTBEAT_SECONDS = 5  # config.yaml's HEARTBEAT: two missed ones, and a node is given up
ANSWERS = {200, 201, 409, 503, 504}


def _assert_recovered(report):
    assert set(report["requests"]["fault"]) <= ANSWERS, report
    assert report["first_order_after_fault_s"] is not None, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report


def _taking_orders_meanwhile(scenario):
    """Seconds from the fault's start to the next order accepted: the fail-over time."""
    seconds = scenario.load.first_order_after(scenario.fault_started)
    scenario.figures["first_order_after_fault_began_s"] = seconds and round(seconds, 2)
    return seconds


def _stop_the_busiest_leader_and_start_it_again(scenario, rabbit_cluster):
    node = rabbit_cluster.busiest_leader(scenario.amqp_uri)
    scenario.figures["node"] = node.name
    rabbit_cluster.stop_node(node)
    time.sleep(DOWN_SECONDS)  # the shop runs on two nodes meanwhile (load time)
    rabbit_cluster.start()


def _restart_each_node_in_turn(scenario, rabbit_cluster):
    for node in rabbit_cluster.nodes:
        rabbit_cluster.wait_until_not_quorum_critical(node)
        rabbit_cluster.restart_app(node)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            _stop_the_busiest_leader_and_start_it_again,
            id="the_node_leading_the_busiest_queues_stopped",
        ),
        pytest.param(_restart_each_node_in_turn, id="a_rolling_restart"),
    ],
)
def test_under_load_the_cluster_loses_nothing_and_keeps_taking_orders(
    fault, cluster_scenario, rabbit_cluster
):
    scenario = cluster_scenario
    scenario.start()

    scenario.run(lambda: fault(scenario, rabbit_cluster), warmup=2, after=3)
    failover = _taking_orders_meanwhile(scenario)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    _assert_recovered(report)
    # Orders go on while the node is down: the cluster is there for that.
    assert failover is not None and failover < report["fault_seconds"], report


def test_a_node_paused_for_20_s_loses_nothing(cluster_scenario, rabbit_cluster):
    scenario = cluster_scenario
    scenario.start()
    paused = {}

    def pause_the_busiest_leader():
        node = paused["node"] = rabbit_cluster.busiest_leader(scenario.amqp_uri)
        scenario.figures["node"] = node.name
        paused["at"] = time.time()
        rabbit_cluster.pause(node, PAUSE_SECONDS)

    scenario.run(pause_the_busiest_leader, warmup=2, after=3)
    _taking_orders_meanwhile(scenario)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    _assert_recovered(report)
    # The services on the paused node gave it up after two missed heartbeats, and
    # did not wait for it to answer a goodbye (they reconnect once the cluster can
    # declare their queues again: while a member does not answer, it cannot).
    node_uri = paused["node"].uri(vhost_of(scenario.amqp_uri))
    on_it = [p for p in scenario.shop.processes if p.env["AMQP_URI"].startswith(node_uri)]
    on_it = [p for p in on_it if not p.name.startswith("gateway")]
    assert on_it, "no service started on the paused node"
    for process in on_it:
        noticed = _first_connection_lost(process) - paused["at"]
        assert noticed <= 2 * HEARTBEAT_SECONDS + 5, (process.name, noticed)


def _first_connection_lost(process):
    """When the service's consumer first reported its connection lost (epoch seconds)."""
    for line in process.log_path.read_text().splitlines():
        if line.startswith("{") and "Connection to broker lost" in line:
            return datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()
    raise AssertionError(f"{process.name} never noticed the pause:\n{process.log_tail()}")
