"""A transactional outbox for Nameko events.

A service adds an event to the outbox inside the database transaction that
changes its state; the event row commits or rolls back with that change. Once
the transaction has committed, the relay greenthread publishes the rows it
wrote, from memory, with publisher confirms, and then marks them published:
one statement for all the rows published since the last mark, once
``BATCH_SIZE`` of them wait or at the poll's tick (``POLL_INTERVAL_SECONDS``),
rather than one per round, which under light load is a transaction per event.
Rows that no process has in memory (it crashed between commit and publish, or
the broker was down) are found by a poll of the table once they are
``STRANDED_AFTER_SECONDS`` old, and published then. Delivery is at least
once: a crash after a publish and before its mark publishes the row again, and
handlers deduplicate by ``event_id`` (see ``extensions.envelopes``).

    class OrdersService:
        db = Database(Base)
        outbox = Outbox(Base, OutboxMessage)

        @rpc
        def cancel_order(self, order_id):
            with self.db.get_session() as session:
                ...
                self.outbox.add(session, "order_cancelled", {...})
"""

import logging
import threading
import time
from collections import deque
from datetime import timedelta
from functools import partial

import eventlet
from kombu import Connection
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from nameko.messaging import HeaderEncoder
from nameko.standalone.events import get_event_exchange
from sqlalchemy import JSON, String, event, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from extensions import shop_metrics
from extensions.db import BigId, Timestamp, service_engine, utcnow
from extensions.envelopes import envelope
from extensions.events import subscriber_queues
from extensions.tracing_nameko import publish_traced

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5
# session.info key: what to do once the session's transaction has committed.
_ON_COMMIT = "outbox.on_commit"


@event.listens_for(Session, "after_commit")
def _run_on_commit(session):
    for callback in session.info.pop(_ON_COMMIT, ()):
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session):
    session.info.pop(_ON_COMMIT, None)


class OutboxMessageMixin:
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    headers: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    published_at: Mapped[object] = mapped_column(Timestamp, nullable=True, index=True)


class OutboxWriter:
    """What a worker gets: ``add`` an event to the session it is committing.

    ``committed``, when given, is called with each row once its transaction has
    committed (the relay's fast path); without it the rows wait for the poll.
    """

    def __init__(self, model, headers, committed=None):
        self.insert = insert(model.__table__)
        # Read at write time: extensions (tracing) add context after injection.
        self.headers = headers
        self.committed = committed

    def add(self, session, event_type, data):
        payload = envelope(data)
        row = {"event_type": event_type, "payload": payload, "headers": self.headers()}
        # One INSERT, now: the ORM's unit of work would cost more than the statement.
        result = session.execute(self.insert, {**row, "created_at": utcnow()})
        if self.committed is not None:
            row["id"] = result.inserted_primary_key[0]
            session.info.setdefault(_ON_COMMIT, []).append(partial(self.committed, row))
        return payload


class Outbox(DependencyProvider, HeaderEncoder):
    def __init__(self, declarative_base, model):
        self.declarative_base = declarative_base
        self.model = model

    def setup(self):
        config = self.container.config
        service_name = self.container.service_name
        uri_key = f"{service_name}:{self.declarative_base.__name__}"
        self.engine = service_engine(config["DB_URIS"][uri_key])
        self.Session = sessionmaker(bind=self.engine)
        self.exchange = get_event_exchange(service_name, config)
        # Whichever service starts first, the queues of this service's
        # subscribers exist before its first event goes out.
        with Connection(config["AMQP_URI"]) as connection:
            for queue in subscriber_queues(service_name, config):
                queue(connection).declare()
        self.publisher = Publisher(
            config["AMQP_URI"],
            use_confirms=True,
            serializer=config.get("serializer", "json"),
            declare=[self.exchange],
        )
        outbox_config = config.get("OUTBOX", {})
        self.poll_interval = float(outbox_config.get("POLL_INTERVAL_SECONDS", 2))
        self.stranded_after = float(outbox_config.get("STRANDED_AFTER_SECONDS", 5))
        if self.poll_interval >= self.stranded_after:
            # A published row waits for its mark until the poll's tick: meanwhile
            # another instance must not take it for stranded and publish it again.
            raise ValueError(
                "OUTBOX.POLL_INTERVAL_SECONDS must be below OUTBOX.STRANDED_AFTER_SECONDS"
                f" ({self.poll_interval} >= {self.stranded_after})"
            )
        self.batch_size = int(outbox_config.get("BATCH_SIZE", 100))
        self.wakeup = threading.Event()
        self.committed = deque()  # rows committed and not yet published
        self.unmarked = []  # ids published and not yet marked
        self.running = False

    def start(self):
        self.running = True
        self.relay_thread = self.container.spawn_managed_thread(
            self.relay, identifier="outbox.relay"
        )

    def stop(self):
        # The workers have finished: the relay publishes and marks what they left
        # in memory before it ends (what it cannot, the next poll of the table will).
        self.running = False
        self.wakeup.set()
        with eventlet.Timeout(STOP_TIMEOUT_SECONDS, False):
            self.relay_thread.wait()
        self.engine.dispose()

    def kill(self):
        self.running = False
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        return OutboxWriter(self.model, partial(self.get_message_headers, worker_ctx), self.add)

    def add(self, row):
        """A worker's row has committed: publish it without reading it back."""
        self.committed.append(row)
        self.wakeup.set()

    def report_state(self):
        """The backlog gauges the alerts watch (called by ``Metrics``)."""
        with self.Session() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(self.model.created_at)).where(
                    self.model.published_at.is_(None)
                )
            ).one()
        service = self.container.service_name
        shop_metrics.OUTBOX_BACKLOG.labels(service).set(count)
        shop_metrics.OUTBOX_OLDEST.labels(service).set(shop_metrics.age_seconds(oldest))

    def relay(self):
        next_poll = time.monotonic()
        while self.running:
            self.wakeup.wait(max(0.0, next_poll - time.monotonic()))
            self.wakeup.clear()
            try:
                self.publish_committed()
                if len(self.unmarked) >= self.batch_size:
                    self.mark_published()
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + self.poll_interval
                    self.mark_published()
                    while self.running and self.publish_stranded() == self.batch_size:
                        pass
            except Exception:
                self._give_up_on_memory()
        try:
            self.publish_committed()
            self.mark_published()
        except Exception:
            self._give_up_on_memory()

    def _give_up_on_memory(self):
        # The rows stay unpublished in the table, for the poll once they are stranded.
        self.committed.clear()
        log.warning("outbox relay could not publish; will retry", exc_info=True)

    def publish_committed(self):
        while self.committed:
            row = self.committed[0]
            self.publish(row["event_type"], row["payload"], row["headers"])
            self.committed.popleft()
            self.unmarked.append(row["id"])

    def mark_published(self):
        if not self.unmarked:
            return
        ids, self.unmarked = self.unmarked, []
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(
                    update(self.model).where(self.model.id.in_(ids)).values(published_at=utcnow())
                )
        except Exception:
            self.unmarked = ids + self.unmarked  # published, so never published again by us
            raise

    def publish_stranded(self):
        """Publish one batch of rows left unpublished; returns how many went out."""
        in_memory = [row["id"] for row in self.committed] + self.unmarked
        with self.Session() as session, session.begin():
            rows = session.scalars(
                select(self.model)
                .where(
                    self.model.published_at.is_(None),
                    self.model.created_at < utcnow() - timedelta(seconds=self.stranded_after),
                    self.model.id.not_in(in_memory),
                )
                .order_by(self.model.id)
                .limit(self.batch_size)
                # Several instances of a service share the table: each row goes
                # through one relay at a time (SQLite ignores this; it has one writer).
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                self.publish(row.event_type, row.payload, row.headers)
                row.published_at = utcnow()
            return len(rows)

    def publish(self, event_type, payload, headers):
        # A PRODUCER span, child of the worker that wrote the row.
        publish_traced(self.container, self, event_type, payload, headers)
        shop_metrics.event_published(self.container.service_name, event_type)
