"""The broker state that failed CI twice, brought about on purpose, then repaired.

RabbitMQ 3.10.8's supervisor of at-least-once dead-letter workers stops for good when
one worker keeps crashing (tests/rabbitmqctl.py, ``healthy``). Stopping it by hand
leaves the broker in the same state. Runs alone: the machine's whole broker has no
such supervisor meanwhile.
"""

from tests.rabbitmqctl import healthy, quorum_queues_work, rabbitmqctl

_STOP_DEAD_LETTER_SUPERVISOR = "supervisor:terminate_child(rabbit_sup, rabbit_fifo_dlx_sup)."


def _supervisor():
    return rabbitmqctl("eval", "whereis(rabbit_fifo_dlx_sup).").strip()


def test_a_broker_without_its_dead_letter_supervisor_fails_the_check_and_is_repaired():
    try:
        rabbitmqctl("eval", _STOP_DEAD_LETTER_SUPERVISOR)
        assert _supervisor() == "undefined"

        assert not quorum_queues_work()  # what a service's start met: 541 INTERNAL_ERROR
    finally:
        healthy()

    assert _supervisor() != "undefined"
    assert quorum_queues_work()
