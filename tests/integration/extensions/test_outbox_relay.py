"""The outbox relay on the real RabbitMQ: committed rows go out from memory, and the
table's poll publishes only what was left behind."""

import pytest
from nameko.events import event_handler
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_container
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from extensions.outbox import Outbox
from tests.integration.extensions.outbox_table import OutboxMessage, PlacesItems, outbox_db_uri
from tests.polling import eventually

received = []


class PlacingService(PlacesItems):
    name = "relay_placing"


class PlacedListener:
    name = "relay_listener"

    @event_handler("relay_placing", "placed")
    def on_placed(self, payload):
        received.append(payload["data"]["item"])


@pytest.fixture
def config(rabbit_config, tmp_path):
    received.clear()
    return dict(
        rabbit_config,
        DB_URIS={"relay_placing:Base": outbox_db_uri(tmp_path)},
        OUTBOX={"POLL_INTERVAL_SECONDS": 0.1, "STRANDED_AFTER_SECONDS": 0.5},
    )


def published_at(config):
    engine = create_engine(config["DB_URIS"]["relay_placing:Base"])
    with Session(engine) as session:
        rows = session.scalars(select(OutboxMessage.published_at)).all()
    engine.dispose()
    return rows


def start_placing(config, runner_factory):
    """Start the placing service and its listener; return the placing service's outbox."""
    runner = runner_factory(config, PlacingService, PlacedListener)
    runner.start()
    return next(
        ext for ext in get_container(runner, PlacingService).extensions if isinstance(ext, Outbox)
    )


def test_a_committed_event_is_published_and_marked_at_once(config, runner_factory):
    outbox = start_placing(config, runner_factory)
    polls = []
    poll = outbox.publish_stranded
    outbox.publish_stranded = lambda: polls.append(poll()) or polls[-1]

    with ClusterRpcProxy(config) as cluster:
        cluster.relay_placing.place("book")

    eventually(lambda: received == ["book"])
    assert eventually(lambda: all(published_at(config)) and published_at(config))
    assert sum(polls) == 0  # it went out from memory, not from the table


def test_events_published_between_two_ticks_are_marked_by_one_statement(config, runner_factory):
    # Under light load each event is a round of its own: a mark per round would be a
    # transaction per event.
    config["OUTBOX"] = {"POLL_INTERVAL_SECONDS": 2, "STRANDED_AFTER_SECONDS": 5}
    outbox = start_placing(config, runner_factory)
    marked = []
    mark = outbox.mark_published
    outbox.mark_published = lambda: (
        (outbox.unmarked and marked.append(len(outbox.unmarked))) or mark()
    )
    books = [f"book-{n}" for n in range(5)]

    with ClusterRpcProxy(config) as cluster:
        for book in books:
            cluster.relay_placing.place(book)
            eventually(lambda book=book: book in received)  # each its own round

    assert eventually(lambda: all(published_at(config)) and len(published_at(config)) == 5)
    assert sum(marked) == 5
    assert len(marked) < 5


def test_a_poll_interval_not_below_the_stranded_age_is_refused(config, runner_factory):
    config["OUTBOX"] = {"POLL_INTERVAL_SECONDS": 5, "STRANDED_AFTER_SECONDS": 5}
    runner = runner_factory(config, PlacingService)

    with pytest.raises(ValueError, match="POLL_INTERVAL_SECONDS must be below"):
        runner.start()


def test_an_event_whose_publish_failed_after_its_commit_goes_out_once_stranded(
    config, runner_factory
):
    outbox = start_placing(config, runner_factory)
    publish, failures = outbox.publisher.publish, []

    def broker_gone_once(*args, **kwargs):
        if not failures:
            failures.append("broker gone")
            raise ConnectionError("broker gone")
        return publish(*args, **kwargs)

    outbox.publisher.publish = broker_gone_once

    with ClusterRpcProxy(config) as cluster:
        cluster.relay_placing.place("book")

    eventually(lambda: received == ["book"], timeout=10)
    assert failures == ["broker gone"]
    assert eventually(lambda: all(published_at(config)) and published_at(config))
