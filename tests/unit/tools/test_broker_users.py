"""The broker permissions follow the services' code (the real broker: tests/integration)."""

import ast
import inspect
import re

from nameko.rpc import RpcProxy

from inventory.service import InventoryService
from orders.service import OrdersService
from tools.broker_users import PROCESSES, RPC_CALLS, permissions
from users.service import UsersService

SERVICES = (UsersService, InventoryService, OrdersService)


def _calls_through_proxies(cls):
    """``service.method`` for every ``self.<proxy>.<method>(...)`` in the class's code."""
    proxies = {
        name: value.target_service
        for name, value in vars(cls).items()
        if isinstance(value, RpcProxy)
    }
    calls = set()
    for node in ast.walk(ast.parse(inspect.getsource(inspect.getmodule(cls)))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id == "self"
            and node.func.value.attr in proxies
        ):
            calls.add(f"{proxies[node.func.value.attr]}.{node.func.attr}")
    return calls


def test_each_service_may_call_exactly_the_methods_its_code_calls():
    for cls in SERVICES:
        assert _calls_through_proxies(cls) == set(RPC_CALLS.get(cls.name, ())), cls.name


def test_each_process_may_touch_its_own_rpc_queue_and_no_other():
    for process in PROCESSES:
        configure = re.compile(permissions(process)["configure"])
        for service in ("users", "inventory", "orders"):
            assert bool(configure.match(f"rpc-{service}")) == (service == process)


def test_the_topic_permissions_tell_replies_from_calls():
    reply = "0d3b5c0e-9f6a-4a5e-8a47-2f0d1c6b7e21"
    orders = re.compile(permissions("orders")["topic"]["write"])
    gateway = re.compile(permissions("gateway")["topic"]["write"])

    assert orders.match(reply) and orders.match(f"rpc.reply-gateway-{reply}")
    assert orders.match("users.get_user") and not orders.match("users.update_user")
    assert gateway.match("users.update_user") and not gateway.match(reply)
