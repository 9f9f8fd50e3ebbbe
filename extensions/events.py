"""Event handlers that retry, then dead-letter (each takes effect once per event:
``extensions.envelopes``).

What happens to an event whose handler raised depends on why (DESIGN.md,
"Failure semantics"):

- bad input (``ValidationError``, ``NotFound``): it can never succeed, so it is
  dead-lettered at once to ``dlq.<queue>``;
- a stale event (``Conflict``): acknowledged, with a log line;
- anything else (a database or a service unavailable, a bug): retried after
  growing delays (``EVENTS.RETRY_DELAYS_SECONDS``, over a minute in all), then
  dead-lettered. A retry is a copy published to a delay queue whose messages
  expire back into the handler's queue, so the handler's queue keeps flowing
  meanwhile.

``python -m tools.dead_letters`` lists and replays dead letters. The
quorum queue's delivery limit is a last guard against a message that kills
its process every time it is delivered.
"""

import importlib
import logging

import eventlet
from kombu import Connection, Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler, get_event_exchange

from extensions import queues, shop_metrics
from extensions.broker import CONNECTION_LOST
from shop.contract import SERVICES
from shop.errors import Conflict, NotFound, ValidationError

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = Exchange("shop.dead-letter", type="direct", durable=True)
# Delay queues are bound here by a header; their messages expire back into the
# handler queue named by the routing key they were published with.
RETRY_EXCHANGE = Exchange("shop.retry", type="headers", durable=True)
RETRY_DELAY_HEADER = "shop-retry-delay-ms"
RETRIES_HEADER = "x-shop-retries"  # x-: a replay from the dead-letter queue starts afresh
DEFAULT_DELIVERY_LIMIT = 5
DEFAULT_RETRY_DELAYS_SECONDS = (1, 2, 5, 10, 20, 30)
POISON = (ValidationError, NotFound)
# The shop's service classes, one per service by the layout rule <name>/service.py's
# <Name>Service: every process can find every event's subscribers here.
SERVICE_CLASSES = tuple(f"{name}.service:{name.capitalize()}Service" for name in SERVICES)


def dead_letter_queue(queue_name):
    return Queue(
        f"dlq.{queue_name}",
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=queue_name,
        durable=True,
        queue_arguments=queues.QUORUM,
    )


def handler_queue_arguments(queue_name, config):
    """A handler queue's arguments: quorum, with its delivery limit and dead-letter queue."""
    limit = config.get("EVENTS", {}).get("DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT)
    return queues.quorum(
        **{
            "x-delivery-limit": int(limit),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": queue_name,
        }
    )


def reliable_handlers(service_classes=SERVICE_CLASSES):
    """``(service name, method name, handler)`` for every reliable handler in the shop."""
    found = []
    for path in service_classes:
        module, _, cls_name = path.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        for method_name, method in vars(cls).items():
            for entrypoint in getattr(method, "nameko_entrypoints", ()):
                if isinstance(entrypoint, ReliableEventHandler):
                    found.append((cls.name, method_name, entrypoint))
    return found


def handler_queue_name(source_service, event_type, service_name, method_name):
    return f"evt-{source_service}-{event_type}--{service_name}.{method_name}"  # as Nameko names it


def subscriber_queues(source_service, config):
    """The handler queues of ``source_service``'s events, declared exactly as their
    handlers declare them, so that a publisher can create them before the first
    publish (RabbitMQ drops an event that no queue is bound for)."""
    exchange = get_event_exchange(source_service, config)
    queues = []
    for service_name, method_name, handler in reliable_handlers():
        if handler.source_service == source_service:
            name = handler_queue_name(
                source_service, handler.event_type, service_name, method_name
            )
            queues.append(
                Queue(
                    name,
                    exchange=exchange,
                    routing_key=handler.event_type,
                    durable=True,
                    queue_arguments=handler_queue_arguments(name, config),
                )
            )
    return queues


def retry_delays(config):
    """``EVENTS.RETRY_DELAYS_SECONDS`` as a tuple of seconds (a list, or "1 2 5")."""
    delays = config.get("EVENTS", {}).get("RETRY_DELAYS_SECONDS", DEFAULT_RETRY_DELAYS_SECONDS)
    if isinstance(delays, str):
        delays = delays.replace(",", " ").split()
    return tuple(float(delay) for delay in delays)


def retry_delay_header(seconds):
    """The header that routes a retry to the delay queue of ``seconds``."""
    return {RETRY_DELAY_HEADER: str(int(seconds * 1000))}


def retry_queue(seconds):
    milliseconds = retry_delay_header(seconds)[RETRY_DELAY_HEADER]
    return Queue(
        f"shop.retry.{milliseconds}ms",
        exchange=RETRY_EXCHANGE,
        binding_arguments={"x-match": "all", **retry_delay_header(seconds)},
        durable=True,
        # Expired messages go through the default exchange to the queue named
        # by their routing key: the handler queue they came from. At least once:
        # the queue keeps a message until the handler queue has confirmed it.
        queue_arguments=queues.quorum(
            **{
                "x-message-ttl": int(milliseconds),
                "x-dead-letter-exchange": "",
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",  # which at-least-once requires
            }
        ),
    )


class ReliableEventHandler(EventHandler):
    """A SERVICE_POOL event handler with retries after growing delays and a dead-letter queue."""

    def unpack_message_headers(self, message):
        # Nameko makes every header context data, which travels on with the
        # worker's own calls and events (the outbox stores it as JSON). The
        # broker's x-death on a retried copy holds datetimes, and the retry
        # count belongs to this delivery, not to the events it causes.
        return {
            name: value
            for name, value in super().unpack_message_headers(message).items()
            if not name.startswith("x-") and name != RETRY_DELAY_HEADER
        }

    def setup(self):
        super().setup()
        config = self.container.config
        # The queue consumer declares ``self.queue`` only when it starts, so the
        # arguments set here take effect.
        self.queue.queue_arguments = handler_queue_arguments(self.queue.name, config)
        self.delays = retry_delays(config)
        dlq = dead_letter_queue(self.queue.name)
        with Connection(config["AMQP_URI"]) as connection:
            queues.declare(
                connection, dlq, f"replay it (python -m tools.dead_letters replay {dlq.name})"
            )
            for delay in sorted(set(self.delays)):
                queues.declare(
                    connection,
                    retry_queue(delay),
                    f"its messages return to their queues within {delay:g}s",
                )
        self.retry_publisher = Publisher(
            config["AMQP_URI"], use_confirms=True, serializer=self.container.serializer
        )

    def report_state(self):
        """How many letters wait in this handler's dead-letter queue (called by ``Metrics``)."""
        queue = dead_letter_queue(self.queue.name)
        with Connection(self.container.config["AMQP_URI"]) as connection:
            waiting = queue(connection).queue_declare(passive=True).message_count
        shop_metrics.DEAD_LETTERS.labels(queue.name).set(waiting)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        error = exc_info[1]
        retries = int((message.headers or {}).get(RETRIES_HEADER) or 0)
        if isinstance(error, Conflict):
            log.info("ignoring stale event on %s: %s", self.queue.name, error)
            self.queue_consumer.ack_message(message)
        elif isinstance(error, POISON) or retries >= len(self.delays):
            log.error("dead-lettering an event on %s: %r", self.queue.name, error)
            self._dead_letter(message)
        else:
            self._retry_later(message, retries)

    def _retry_later(self, message, retries):
        delay = self.delays[retries]
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
        headers.update(retry_delay_header(delay))
        try:
            self.retry_publisher.publish(
                message.payload,
                exchange=RETRY_EXCHANGE,
                routing_key=self.queue.name,
                extra_headers={**headers, RETRIES_HEADER: retries + 1},
            )
        except CONNECTION_LOST:
            # The copy did not go out (its node does not answer). Handed back after
            # the delay it was to wait, not at once: each delivery counts toward the
            # queue's delivery limit. Left unacknowledged instead, it would wait for
            # as long as this connection lives; if the connection is gone, the
            # broker hands it back anyway.
            log.warning(
                "could not schedule a retry on %s; requeued in %ss", self.queue.name, delay
            )
            eventlet.sleep(delay)
            self.queue_consumer.requeue_message(message)
            return
        log.warning("handler on %s failed; retry %d in %ss", self.queue.name, retries + 1, delay)
        self.queue_consumer.ack_message(message)  # only once the broker confirmed the copy

    def _dead_letter(self, message):
        try:
            # The queue's dead-letter exchange routes it to dlq.<queue>.
            message.reject(requeue=False)
        except CONNECTION_LOST:
            return  # redelivered after the reconnect, and judged again
        shop_metrics.dead_lettered(self.queue.name)


reliable_event_handler = ReliableEventHandler.decorator
