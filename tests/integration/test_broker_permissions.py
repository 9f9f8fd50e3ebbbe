"""Each process as its own RabbitMQ user (tools.broker_users), on the real broker.

The shop works end to end with every service and the gateway under its own user, in
this test's throw-away vhost; each user is then refused what it has no business doing.
The users are deleted afterwards (the vhost goes with the rabbit_config fixture).
"""

import json
import secrets
import uuid
from urllib.parse import urlsplit

import pika
import pytest
from nameko.runners import ServiceRunner
from pika.exceptions import ChannelClosedByBroker

from gateway.rpc import RpcClient
from inventory.service import InventoryService
from orders.service import OrdersService
from tests.polling import eventually
from tools.broker_users import PROCESSES, Management, apply
from users.service import UsersService

SERVICES = {"users": UsersService, "inventory": InventoryService, "orders": OrdersService}


@pytest.fixture
def db_uris(sqlite_db_uris):
    return sqlite_db_uris  # the broker is under test here, not the databases


@pytest.fixture
def broker_uris(request, rabbit_config):
    """``{process: AMQP URI}``, each with its own throw-away user and password."""
    api = urlsplit(request.config.getoption("RABBIT_API_URI"))
    management = Management(
        f"{api.scheme}://{api.hostname}:{api.port}", api.username, api.password
    )
    passwords = {process: secrets.token_hex(16) for process in PROCESSES}
    names = apply(
        management, rabbit_config["vhost"], passwords, prefix=f"test-{uuid.uuid4().hex[:8]}-"
    )
    amqp = urlsplit(rabbit_config["AMQP_URI"])
    yield {
        process: f"pyamqp://{names[process]}:{passwords[process]}@{amqp.hostname}:{amqp.port}"
        f"/{rabbit_config['vhost']}"
        for process in PROCESSES
    }
    for name in names.values():
        management.delete_user(name)


@pytest.fixture
def shop_as_separate_users(shop_config, broker_uris):
    """Each service in its own runner with its own user; the gateway's client with its own."""
    runners = []
    for name, service_cls in SERVICES.items():
        runner = ServiceRunner({**shop_config, "AMQP_URI": broker_uris[name]})
        runner.add_service(service_cls)
        runner.start()
        runners.append(runner)
    client = RpcClient(broker_uris["gateway"], timeout=15)
    yield client
    client.close()
    for runner in runners:
        runner.kill()


def test_the_saga_runs_with_each_process_as_its_own_broker_user(shop_as_separate_users):
    gateway = shop_as_separate_users
    user = gateway.call(
        "users",
        "create_user",
        {"email": "ann@example.com", "name": "Ann", "password": "pw-12345678"},
    )
    product = gateway.call(
        "inventory",
        "create_product",
        {"sku": "MUG-1", "name": "Mug", "price": "7.50", "stock": 3},
    )

    # orders calls users and inventory, publishes order_created; inventory reserves and
    # answers with stock_reserved; orders confirms.
    order = gateway.call(
        "orders", "create_order", user["id"], [{"product_id": product["id"], "quantity": 2}]
    )
    eventually(lambda: gateway.call("orders", "get_order", order["id"])["status"] == "confirmed")
    # order_completed reaches users (points) and inventory (drops the reservation).
    gateway.call("orders", "complete_order", order["id"])

    eventually(lambda: gateway.call("users", "get_user", user["id"])["points"] == 15)
    eventually(lambda: gateway.call("inventory", "get_product", product["id"])["reserved"] == 0)
    assert gateway.call("users", "health")["status"] == "ok"


def _refused(uri, action):
    """Run ``action(channel)`` as the user of ``uri``; True when the broker refuses it."""
    connection = pika.BlockingConnection(pika.URLParameters(uri.replace("pyamqp", "amqp", 1)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # a refused publish then fails here, not later
        action(channel)
        return False
    except ChannelClosedByBroker as closed:
        assert closed.reply_code == 403, closed  # ACCESS_REFUSED, not another failure
        return True
    finally:
        if connection.is_open:
            connection.close()


def _publish(exchange, routing_key, body=b"{}"):
    properties = pika.BasicProperties(content_type="application/json")
    return lambda channel: channel.basic_publish(exchange, routing_key, body, properties)


def _consume(queue):
    return lambda channel: channel.basic_consume(queue, lambda *args: None)


def _bind(queue, exchange, routing_key, declare=False):
    def bind(channel):
        if declare:
            channel.queue_declare(queue, exclusive=True)
        channel.queue_bind(queue, exchange, routing_key)

    return bind


def test_each_user_is_refused_what_its_process_never_does(shop_as_separate_users, broker_uris):
    users, inventory, orders, gateway = (broker_uris[p] for p in PROCESSES)

    # No service may call a method it does not need (what each does need, the saga
    # above shows): making someone admin is for the gateway alone.
    for uri in (users, inventory, orders):
        assert _refused(uri, _publish("nameko-rpc", "users.update_user"))
    assert _refused(inventory, _publish("nameko-rpc", "orders.create_order"))
    assert _refused(orders, _publish("nameko-rpc", "inventory.adjust_stock"))
    # Nor read another's requests (log-in passwords travel in rpc-users) ...
    assert _refused(inventory, _consume("rpc-users"))
    assert _refused(gateway, _consume("rpc-users"))
    # ... nor copy them into a queue of its own bound to another service's methods.
    assert _refused(inventory, _bind("rpc-inventory", "nameko-rpc", "users.*"))
    reply_queue = f"rpc.reply-gateway-{uuid.uuid4()}"
    assert _refused(gateway, _bind(reply_queue, "nameko-rpc", "users.*", declare=True))
    # Nor publish another service's events, nor put a message straight into a queue.
    assert _refused(gateway, _publish("orders.events", "order_completed"))
    assert _refused(users, _publish("orders.events", "order_completed"))
    assert _refused(gateway, _publish("", "rpc-users"))
    # Nor delete what another service consumes from.
    assert _refused(inventory, lambda channel: channel.queue_delete("rpc-users"))


def test_what_the_permissions_cannot_stop(shop_as_separate_users, broker_uris):
    """The limits docs/security.md states; a change that closes one fails here, on purpose."""
    gateway = shop_as_separate_users
    user = gateway.call(
        "users",
        "create_user",
        {"email": "bo@example.com", "name": "Bo", "password": "pw-12345678"},
    )
    # The gateway may call any method, users.update_user included: it decides who may
    # (gateway/auth.py), so whoever controls the gateway's broker user can make an admin.
    assert gateway.call("users", "update_user", user["id"], {"role": "admin"})["role"] == "admin"
    # A service declares delay queues that expire into the default exchange, so it needs
    # write there, and with it can put a forged event straight into another service's
    # handler queue: here inventory hands user 100 points for an order that never was.
    forged = {"event_id": str(uuid.uuid4()), "occurred_at": "2026-01-01T00:00:00+00:00"}
    forged["data"] = {"order_id": 999, "user_id": user["id"], "total": "100.00"}
    points_queue = "evt-orders-order_completed--users.add_points_for_completed_order"
    body = json.dumps(forged).encode()
    assert not _refused(broker_uris["inventory"], _publish("", points_queue, body))
    eventually(lambda: gateway.call("users", "get_user", user["id"])["points"] == 100)
