"""Event envelopes, and handlers that take effect once per event.

Every event is ``{"event_id", "occurred_at", "data"}``. A handler records the
``event_id`` in the same transaction as its effect (``claim_event``, which
``@once_per_event`` does for it), so a redelivered event changes nothing.
What happens to an event whose handler raised is ``extensions.events``'s part.
"""

import functools
import logging
import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import shop_metrics
from extensions.db import Timestamp, dialect_insert, utcnow
from shop.errors import ValidationError

log = logging.getLogger(__name__)


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

    One statement: the insert does nothing when the row exists. Of two concurrent
    deliveries of one event, the second waits on the primary key until the
    first's transaction ends, and then inserts (the first rolled back) or gets
    False (it committed).
    """
    claimed = session.execute(
        dialect_insert(session, model.__table__).on_conflict_do_nothing(),
        {"event_id": event_id, "handler": handler, "processed_at": utcnow()},
    )
    if claimed.rowcount == 0:
        log.info("ignoring duplicate event %s for %s", event_id, handler)
        shop_metrics.duplicate_ignored(handler)
        return False
    return True


# session.info key: the claim of a ``once_per_event`` handler, for ``claim_again``.
_CLAIM = "envelopes.claim"


def once_per_event(model, handler):
    """Make ``method(self, session, data)`` an event handler ``(self, payload)`` that
    takes effect once per event.

    It opens the envelope and a session of ``self.db``, and claims the event in it
    (``claim_event`` into ``model``, as ``handler``). The method runs only when the
    claim is new, in the same transaction: its effect, its outbox events and the
    claim commit or roll back together.

        @reliable_event_handler("orders", "order_completed")
        @once_per_event(ProcessedEvent, "add_points")
        def add_points_for_completed_order(self, session, order): ...
    """

    def decorate(method):
        def handle(self, payload):
            event_id, data = open_envelope(payload)
            with self.db.get_session() as session:
                session.info[_CLAIM] = (model, event_id, handler)
                if claim_event(session, model, event_id, handler):
                    method(self, session, data)

        functools.update_wrapper(handle, method)
        # Spans name the call's arguments by the signature, which is (self, payload).
        del handle.__wrapped__
        return handle

    return decorate


def claim_again(session):
    """Claim the event again after a ``once_per_event`` handler rolled ``session`` back
    (which undid the claim too); False when another delivery claimed it meanwhile."""
    return claim_event(session, *session.info[_CLAIM])
