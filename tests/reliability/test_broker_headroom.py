"""The suite leaves the shared broker able to declare quorum queues.

RabbitMQ 3.10 keeps an in-memory table for each deleted quorum queue until its
write-ahead log rolls over (``tests/rabbitmqctl.py``). A suite that deletes
thousands of them with its vhosts reaches the node's limit of 50,000 tables, and
from then on every quorum queue declaration fails with INTERNAL_ERROR: nine
fault tests failed so in CI after a day of test runs on one broker. The
``rabbit_config`` fixture (``tests/conftest.py``) frees them every
``FREE_QUORUM_TABLES_EVERY`` vhosts.
"""

from kombu import Connection, Queue

from extensions.queues import quorum
from tests.rabbitmqctl import free_quorum_queue_tables, quorum_queue_tables

QUEUES = 100


def test_the_tables_of_deleted_quorum_queues_are_freed(rabbit_config):
    # A fresh log first: a roll-over of its own in the middle of the loop (the suite's
    # quorum traffic fills the log) would free the tables this test counts.
    free_quorum_queue_tables()
    before = quorum_queue_tables()
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.channel()
        for index in range(QUEUES):
            queue = Queue(f"headroom-{index}", durable=True, queue_arguments=quorum())
            queue(channel).declare()
            queue(channel).delete()

    # The broker's own behaviour, which the fixture works around: each deleted queue
    # left a table behind. (Other processes on the machine may add some of theirs.)
    assert quorum_queue_tables() >= before + QUEUES * 0.9

    free_quorum_queue_tables()
    assert quorum_queue_tables() < before + QUEUES * 0.1
