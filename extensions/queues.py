"""Queues that outlive a broker node: quorum queues, declared over an older classic one.

A quorum queue is replicated on a majority of a cluster's nodes, so it
survives the loss of any one of them; a classic queue lives on one node and is
gone, or unreachable, while that node is down. Every queue the shop relies on
is a quorum queue: the RPC request queues (``extensions.rpc``), the event
handler queues, their dead-letter queues and the retry delay queues
(``extensions.events``). Only reply queues, which belong to one connection,
are not.

A quorum queue must be durable, cannot be exclusive or auto-deleted, and
takes no global QoS (nameko sets a per-consumer prefetch), so nothing else
changes for its consumers.

An install made before the shop used quorum queues has classic queues of the
same names, and RabbitMQ refuses to declare a queue of another type over one
(PRECONDITION_FAILED, "inequivalent arg 'x-queue-type'"). ``declare`` then
replaces the classic queue, but only if it holds no message and nobody
consumes it (RabbitMQ checks both in the same step as the delete); otherwise
it raises ``ClassicQueueInTheWay``, which says what to do, and the process
does not start.
"""

import logging

from amqp.exceptions import NotFound, PreconditionFailed

log = logging.getLogger(__name__)

QUORUM = {"x-queue-type": "quorum"}


class ClassicQueueInTheWay(Exception):
    """A classic queue of an older install holds messages or has consumers."""


def quorum(**arguments):
    """Queue arguments of a quorum queue, plus ``arguments``."""
    return {**QUORUM, **arguments}


def declare(connection, queue, what_to_do="stop the processes of the older version"):
    """Declare ``queue`` (a kombu ``Queue`` with quorum arguments) and its binding.

    ``what_to_do`` finishes the error raised when a classic queue of the same
    name still holds messages or has consumers: how that queue empties.
    """
    try:
        _declare_on_a_channel_of_its_own(connection, queue)
        return
    except PreconditionFailed as exc:
        if "x-queue-type" not in str(exc):
            raise
    channel = connection.channel()
    try:
        channel.queue_delete(queue.name, if_unused=True, if_empty=True)
    except PreconditionFailed:
        messages, consumers = depth(connection, queue.name)
        raise ClassicQueueInTheWay(
            f"{queue.name} is a classic queue of an older install, with {messages} "
            f"message(s) and {consumers} consumer(s); it must be empty and unused to "
            f"become a quorum queue: {what_to_do}, then start this process again"
        ) from None
    except NotFound:
        pass  # another instance replaced it first
    else:
        log.warning("replaced the empty classic queue %s with a quorum queue", queue.name)
    finally:
        channel.close()
    _declare_on_a_channel_of_its_own(connection, queue)


def _declare_on_a_channel_of_its_own(connection, queue):
    # A refused declaration closes its channel: never the connection's default one.
    channel = connection.channel()
    try:
        queue(channel).declare()
    finally:
        channel.close()


def depth(connection, name):
    """``(messages, consumers)`` of queue ``name``; ``(0, 0)`` if there is none."""
    channel = connection.channel()
    try:
        _name, messages, consumers = channel.queue_declare(name, passive=True)
        return messages, consumers
    except NotFound:
        return 0, 0
    finally:
        channel.close()
