"""The shop's own Prometheus series: its business counters and the state its alerts watch.

Bumped by the outbox relay (events published, and from them orders by status
and failed reservations), the event deduplication and the dead-letter path
(``extensions.events``), and by the orders service (pending orders, redrives),
through the functions below, so service code needs no metrics objects of its
own. The generic worker series and the ``/metrics`` endpoint are
``extensions.metrics``, which knows nothing of these.
"""

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from shop.contract import ORDER_EVENT_STATUS

ORDERS = Counter("shop_orders", "Orders that reached a status, by status.", ["status"])
RESERVATIONS_FAILED = Counter(
    "shop_stock_reservations_failed", "Orders whose stock could not be reserved."
)
EVENTS_PUBLISHED = Counter(
    "shop_events_published", "Events published by the outbox.", ["service", "event_type"]
)
ORDERS_REDRIVEN = Counter(
    "shop_orders_redriven", "Pending orders whose order_created was published again."
)
DUPLICATES_IGNORED = Counter(
    "shop_events_duplicates_ignored",
    "Redelivered events a handler had already applied.",
    ["handler"],
)
DEAD_LETTERED = Counter(
    "shop_events_dead_lettered",
    "Events a handler gave up on, parked in a dead-letter queue.",
    ["queue"],
)

# State the alerts watch (docker/prometheus/): each sampled by the extension that
# owns it, every ``METRICS.STATE_INTERVAL_SECONDS`` (see ``extensions.metrics.Metrics``).
OUTBOX_BACKLOG = Gauge("shop_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST = Gauge(
    "shop_outbox_oldest_unpublished_seconds",
    "Age of the oldest unpublished outbox row (0 when there is none).",
    ["service"],
)
DEAD_LETTERS = Gauge("shop_dead_letters", "Messages waiting in a dead-letter queue.", ["queue"])
ORDERS_PENDING = Gauge("shop_orders_pending", "Orders in the pending status now.")
ORDERS_PENDING_OLDEST = Gauge(
    "shop_orders_pending_oldest_seconds",
    "Age of the oldest pending order (0 when there is none).",
)


def event_published(service, event_type):
    """Called by the outbox relay once an event is confirmed by the broker."""
    EVENTS_PUBLISHED.labels(service, event_type).inc()
    if service == "orders" and event_type in ORDER_EVENT_STATUS:
        ORDERS.labels(ORDER_EVENT_STATUS[event_type]).inc()
    elif event_type == "stock_reservation_failed":
        RESERVATIONS_FAILED.inc()


def orders_pending(count, oldest_created_at):
    ORDERS_PENDING.set(count)
    ORDERS_PENDING_OLDEST.set(age_seconds(oldest_created_at))


def order_redriven():
    ORDERS_REDRIVEN.inc()


def duplicate_ignored(handler):
    DUPLICATES_IGNORED.labels(handler).inc()


def dead_lettered(queue):
    DEAD_LETTERED.labels(queue).inc()


def age_seconds(since):
    return (datetime.now(UTC) - since).total_seconds() if since is not None else 0
