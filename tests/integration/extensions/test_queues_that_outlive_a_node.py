"""Quorum queues for everything that must outlive a broker node, reply queues of
each connection's own, and the upgrade from an older install's classic queues
(``extensions.queues``, ``extensions.rpc``), on the real RabbitMQ."""

import pytest
from kombu import Connection, Exchange, Queue
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy

from extensions.events import dead_letter_queue, handler_queue_name
from extensions.queues import ClassicQueueInTheWay, depth
from shop.errors import NotFound, Unavailable, UpstreamTimeout
from tests.polling import eventually
from users.service import UsersService

LASTING = ("rpc-", "evt-", "dlq.", "shop.retry.")
POINTS_QUEUE = handler_queue_name(
    "orders", "order_completed", "users", "add_points_for_completed_order"
)


@pytest.fixture
def db_uris(sqlite_db_uris):
    """Queues are the point here, not the database: one run, on SQLite."""
    return sqlite_db_uris


def _queues(rabbit_manager, rabbit_config):
    return {q["name"]: q for q in rabbit_manager.get_queues(rabbit_config["vhost"])}


def _declare_classic(amqp_uri, name, exchange=None, routing_key=None, message=None):
    """A queue as the shop declared it before it used quorum queues."""
    with Connection(amqp_uri) as connection:
        Queue(name, exchange=exchange, routing_key=routing_key, durable=True)(
            connection.default_channel
        ).declare()
        if message is not None:
            connection.Producer().publish(message, routing_key=name)


def test_every_queue_that_must_outlive_a_node_is_a_quorum_queue(
    shop_runner, rabbit_manager, rabbit_config
):
    queues = _queues(rabbit_manager, rabbit_config)

    lasting = {name: q["type"] for name, q in queues.items() if name.startswith(LASTING)}
    assert {"rpc-users", "rpc-inventory", "rpc-orders", f"dlq.{POINTS_QUEUE}"} <= set(lasting)
    assert any(name.startswith("shop.retry.") for name in lasting)
    assert set(lasting.values()) == {"quorum"}, lasting
    replies = [q for name, q in queues.items() if name.startswith("rpc.reply-orders-")]
    assert len(replies) == 1
    assert replies[0]["exclusive"] and not replies[0]["durable"]


def test_a_services_reply_queue_is_replaced_by_a_new_one_on_each_connection(
    shop_runner, shop_config, rabbit_manager, rabbit_config
):
    def orders_reply_queues():
        names = _queues(rabbit_manager, rabbit_config)
        return sorted(name for name in names if name.startswith("rpc.reply-orders-"))

    before = eventually(orders_reply_queues)
    connections = eventually(  # listed once the management API's statistics have them
        lambda: [
            c["name"]
            for c in rabbit_manager.get_connections()
            if c.get("vhost") == rabbit_config["vhost"]
        ],
        timeout=15,
    )
    for name in connections:  # as a node that dies takes its connections with it
        rabbit_manager.delete_connection(name)

    eventually(lambda: orders_reply_queues() not in ([], before), timeout=20)
    after = orders_reply_queues()
    assert len(after) == 1 and set(after).isdisjoint(before)

    def orders_asks_users():  # about a user who does not exist
        try:
            rpc.orders.create_order(424242, [{"product_id": 1, "quantity": 1}])
        except (Unavailable, UpstreamTimeout):
            return False  # users or orders still reconnecting
        except NotFound:
            return True  # users' answer came back through orders' new reply queue

    with ClusterRpcProxy(shop_config, timeout=10) as rpc:
        eventually(orders_asks_users, timeout=20)


def test_a_classic_rpc_queue_left_empty_by_an_older_install_becomes_a_quorum_queue(
    shop_config, rabbit_manager, rabbit_config
):
    rpc_exchange = Exchange("nameko-rpc", type="topic", durable=True)
    _declare_classic(shop_config["AMQP_URI"], "rpc-users", rpc_exchange, "users.*")
    assert _queues(rabbit_manager, rabbit_config)["rpc-users"]["type"] == "classic"

    container = ServiceContainer(UsersService, shop_config)
    container.start()
    try:
        with ClusterRpcProxy(shop_config, timeout=10) as rpc:
            assert rpc.users.health()["status"] == "ok"
    finally:
        container.kill()

    assert _queues(rabbit_manager, rabbit_config)["rpc-users"]["type"] == "quorum"


def test_a_classic_queue_still_holding_messages_stops_the_service_saying_what_to_do(
    shop_config, rabbit_manager, rabbit_config
):
    dlq = dead_letter_queue(POINTS_QUEUE).name
    _declare_classic(shop_config["AMQP_URI"], dlq, message={"a": "dead letter"})

    container = ServiceContainer(UsersService, shop_config)
    with pytest.raises(ClassicQueueInTheWay) as refused:
        container.start()
    container.kill()

    assert dlq in str(refused.value)
    assert f"python -m tools.dead_letters replay {dlq}" in str(refused.value)
    assert _queues(rabbit_manager, rabbit_config)[dlq]["type"] == "classic"
    with Connection(shop_config["AMQP_URI"]) as connection:
        assert depth(connection, dlq) == (1, 0)  # the letter is kept
