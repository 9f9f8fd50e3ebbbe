"""The check `make test` starts with: can the machine's broker declare a quorum queue?"""

import requests

from tests.rabbitmqctl import AUTH, MANAGEMENT, quorum_queues_work


def _check_vhosts():
    vhosts = requests.get(f"{MANAGEMENT}/vhosts", auth=AUTH, timeout=10).json()
    return [vhost["name"] for vhost in vhosts if vhost["name"].startswith("broker-check_")]


def test_a_working_broker_passes_and_the_check_leaves_no_vhost_behind():
    assert quorum_queues_work()
    assert _check_vhosts() == []


def test_a_broker_that_cannot_be_reached_over_amqp_fails_and_leaves_no_vhost_behind():
    assert not quorum_queues_work(amqp="amqp://guest:guest@127.0.0.1:1")
    assert _check_vhosts() == []
