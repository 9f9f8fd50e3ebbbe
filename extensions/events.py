"""Event envelopes, idempotent handling and handlers that dead-letter.

Every event is ``{"event_id", "occurred_at", "data"}``. Handlers record the
``event_id`` in the same transaction as their effect (``claim_event``), so a
redelivered event changes nothing. A handler that keeps failing is retried
``EVENTS.DELIVERY_LIMIT`` times by RabbitMQ (a quorum queue's delivery limit)
and then parked in ``dlq.<queue>``, where ``python -m extensions.dead_letters``
lists and replays it.
"""

import logging
import uuid

from kombu import Connection, Exchange, Queue
from nameko.events import EventHandler
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import metrics
from extensions.db import Timestamp, utcnow
from extensions.errors import ValidationError

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = Exchange("shop.dead-letter", type="direct", durable=True)
DEFAULT_DELIVERY_LIMIT = 5


def envelope(data):
    return {"event_id": str(uuid.uuid4()), "occurred_at": utcnow().isoformat(), "data": data}


def open_envelope(payload):
    """Return ``(event_id, data)`` or raise ``ValidationError`` for a malformed event."""
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("event_id"), str)
        or not isinstance(payload.get("data"), dict)
    ):
        raise ValidationError("Malformed event envelope", {"payload": [repr(payload)[:200]]})
    return payload["event_id"], payload["data"]


class ProcessedEventMixin:
    """One row per (event, handler) that has taken effect."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handler: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)


def claim_event(session, model, event_id, handler):
    """Record that ``handler`` applies ``event_id``; False when it already has.

    Two concurrent deliveries of one event both get True, but only one can
    commit: the other fails on the primary key, is requeued and then sees the
    committed row.
    """
    if session.get(model, (event_id, handler)) is not None:
        log.info("ignoring duplicate event %s for %s", event_id, handler)
        metrics.duplicate_ignored(handler)
        return False
    session.add(model(event_id=event_id, handler=handler))
    return True


def dead_letter_queue(queue_name):
    return Queue(
        f"dlq.{queue_name}",
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=queue_name,
        durable=True,
    )


class ReliableEventHandler(EventHandler):
    """A SERVICE_POOL event handler with bounded retries and a dead-letter queue."""

    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, event_type, requeue_on_error=True, **kwargs)

    def setup(self):
        super().setup()
        # The queue consumer declares ``self.queue`` only when it starts, so the
        # arguments set here take effect. Quorum queues count deliveries.
        limit = self.container.config.get("EVENTS", {}).get(
            "DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT
        )
        self.queue.queue_arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": int(limit),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": self.queue.name,
        }
        with Connection(self.container.config["AMQP_URI"]) as connection:
            dead_letter_queue(self.queue.name)(connection).declare()


reliable_event_handler = ReliableEventHandler.decorator
