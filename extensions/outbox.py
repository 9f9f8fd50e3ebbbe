"""A transactional outbox for Nameko events.

A service adds an event to the outbox inside the database transaction that
changes its state; the event row commits or rolls back with that change. A
relay greenthread then publishes committed rows with publisher confirms and
marks them published. It is woken as soon as a worker that wrote to the
outbox finishes, and also polls, so rows left by a crash or a broker outage
go out once the broker is back. Delivery is at least once: handlers
deduplicate by ``event_id`` (see ``extensions.events``).

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
from functools import partial
from weakref import WeakKeyDictionary

from kombu import Connection
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from nameko.messaging import HeaderEncoder
from nameko.standalone.events import get_event_exchange
from sqlalchemy import JSON, String, create_engine, func, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from extensions import metrics
from extensions.db import BigId, Timestamp, utcnow
from extensions.events import envelope, subscriber_queues
from extensions.tracing_nameko import publish_span

log = logging.getLogger(__name__)


class OutboxMessageMixin:
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    headers: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    published_at: Mapped[object] = mapped_column(Timestamp, nullable=True, index=True)


class OutboxWriter:
    """What a worker gets: ``add`` an event to the session it is committing."""

    def __init__(self, model, headers):
        self.model = model
        # Read at write time: extensions (tracing) add context after injection.
        self.headers = headers
        self.written = False

    def add(self, session, event_type, data):
        payload = envelope(data)
        session.add(self.model(event_type=event_type, payload=payload, headers=self.headers()))
        self.written = True
        return payload


class Outbox(DependencyProvider, HeaderEncoder):
    def __init__(self, declarative_base, model):
        self.declarative_base = declarative_base
        self.model = model
        self.writers = WeakKeyDictionary()

    def setup(self):
        config = self.container.config
        service_name = self.container.service_name
        uri_key = f"{service_name}:{self.declarative_base.__name__}"
        self.engine = create_engine(config["DB_URIS"][uri_key], pool_pre_ping=True)
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
        self.batch_size = int(outbox_config.get("BATCH_SIZE", 100))
        self.wakeup = threading.Event()
        self.running = False

    def start(self):
        self.running = True
        self.container.spawn_managed_thread(self.relay, identifier="outbox.relay")

    def stop(self):
        self.running = False
        self.wakeup.set()
        self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        writer = OutboxWriter(self.model, partial(self.get_message_headers, worker_ctx))
        self.writers[worker_ctx] = writer
        return writer

    def worker_teardown(self, worker_ctx):
        writer = self.writers.pop(worker_ctx, None)
        if writer is not None and writer.written:
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
        metrics.OUTBOX_BACKLOG.labels(service).set(count)
        metrics.OUTBOX_OLDEST.labels(service).set(metrics.age_seconds(oldest))

    def relay(self):
        while self.running:
            self.wakeup.wait(self.poll_interval)
            self.wakeup.clear()
            try:
                while self.running and self.publish_pending() == self.batch_size:
                    pass
            except Exception:
                # Rows stay unpublished and are retried on the next round.
                log.warning("outbox relay could not publish; will retry", exc_info=True)

    def publish_pending(self):
        """Publish one batch of unpublished rows in order; returns how many went out."""
        with self.Session() as session, session.begin():
            rows = session.scalars(
                select(self.model)
                .where(self.model.published_at.is_(None))
                .order_by(self.model.id)
                .limit(self.batch_size)
                # Several instances of a service share the table: each row goes
                # through one relay at a time (SQLite ignores this; it has one writer).
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                # A PRODUCER span, child of the worker that wrote the row.
                with publish_span(
                    self.container, self.exchange.name, row.event_type, row.payload, row.headers
                ) as headers:
                    self.publisher.publish(
                        row.payload,
                        exchange=self.exchange,
                        routing_key=row.event_type,
                        extra_headers=headers,
                    )
                row.published_at = utcnow()
                metrics.event_published(self.container.service_name, row.event_type)
            return len(rows)
