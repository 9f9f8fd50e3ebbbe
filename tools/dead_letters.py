"""Inspect and replay events that handlers gave up on.

    python -m tools.dead_letters list
    python -m tools.dead_letters show dlq.evt-orders-order_created--inventory.reserve_stock
    python -m tools.dead_letters replay dlq.evt-orders-order_created--inventory.reserve_stock

A replayed message goes back to the handler's own queue with a fresh delivery
count; the handler's ``event_id`` check makes a replay of an event that did
take effect harmless.
"""

import argparse
import json

from kombu import Connection, Queue

from extensions.config import load_config
from extensions.events import handler_queue_name, reliable_handlers
from extensions.queues import depth


def handler_queue_names():
    """The queue of every reliable handler the shop's services declare."""
    return sorted(
        handler_queue_name(handler.source_service, handler.event_type, service, method)
        for service, method, handler in reliable_handlers()
    )


def counts(amqp_uri, queue_names):
    """``{dead-letter queue: messages waiting}`` for the given handler queues (0 for a
    queue its handler has not declared yet)."""
    with Connection(amqp_uri) as connection:
        return {f"dlq.{name}": depth(connection, f"dlq.{name}")[0] for name in queue_names}


def show(amqp_uri, dlq_name, limit=10):
    """Up to ``limit`` dead letters, left in place (their order may change)."""
    messages = []
    with Connection(amqp_uri) as connection:
        queue = Queue(dlq_name, no_declare=True)(connection.default_channel)
        fetched = []
        while len(fetched) < limit and (message := queue.get(no_ack=False)) is not None:
            fetched.append(message)
            deaths = message.headers.get("x-death") or [{}]
            messages.append({"body": message.decode(), "reason": deaths[0].get("reason")})
        for message in fetched:
            message.requeue()
    return messages


def replay(amqp_uri, dlq_name, limit=None):
    """Move dead letters back to their handler's queue; returns how many moved.

    Only the letters waiting when it starts: one that fails again at once comes
    back behind them, and must not be replayed round and round.
    """
    target = dlq_name.removeprefix("dlq.")
    moved = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.default_channel
        queue = Queue(dlq_name, no_declare=True)(channel)
        producer = connection.Producer(channel)
        waiting = channel.queue_declare(dlq_name, passive=True).message_count
        limit = waiting if limit is None else min(limit, waiting)
        while moved < limit and (message := queue.get(no_ack=False)):
            headers = {k: v for k, v in message.headers.items() if not k.startswith("x-")}
            producer.publish(
                message.body,
                exchange="",
                routing_key=target,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
            )
            message.ack()  # only after the broker confirmed the copy
            moved += 1
    return moved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list")
    show_parser = commands.add_parser("show")
    show_parser.add_argument("queue")
    show_parser.add_argument("--limit", type=int, default=10)
    replay_parser = commands.add_parser("replay")
    replay_parser.add_argument("queue")
    replay_parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    amqp_uri = load_config(args.config)["AMQP_URI"]
    if args.command == "list":
        for name, count in counts(amqp_uri, handler_queue_names()).items():
            print(f"{count:6d}  {name}")
    elif args.command == "show":
        print(json.dumps(show(amqp_uri, args.queue, args.limit), indent=2, default=str))
    else:
        print(f"replayed {replay(amqp_uri, args.queue, args.limit)} message(s)")


if __name__ == "__main__":
    main()
