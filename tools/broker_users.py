"""One RabbitMQ user per shop process, allowed only what that process does.

The services trust whatever reaches them through the broker, so who may publish
and consume what is decided here (docs/security.md, "Default credentials and
the broker"). The permissions are derived from the services' own code: their
RPC queue, the handlers they declare, the events they publish, and the calls
they make (``RPC_CALLS``)::

    python -m tools.broker_users show     # every user's permissions, as JSON
    python -m tools.broker_users apply    # create or update the users (idempotent)

``apply`` uses the management API at ``RABBITMQ_API`` (http://localhost:15672)
as ``RABBITMQ_ADMIN_USER`` / ``RABBITMQ_ADMIN_PASSWORD`` on ``RABBITMQ_VHOST``
(``/``), and takes each user's password from ``RABBITMQ_<PROCESS>_PASSWORD``.
Operators (``nameko shell``, ``python -m tools.dead_letters``) use the
admin user.
"""

import argparse
import importlib
import json
import os
import re
import sys
import time
from urllib.parse import quote

import requests
from nameko.rpc import RpcProxy

from extensions.events import (
    DEAD_LETTER_EXCHANGE,
    RETRY_EXCHANGE,
    SERVICE_CLASSES,
    handler_queue_name,
    reliable_handlers,
)
from extensions.outbox import Outbox
from shop.contract import SERVICES

RPC_EXCHANGE = "nameko-rpc"
PROCESSES = (*SERVICES, "gateway")
# The RPC methods a service calls on the others: a routing key on the RPC exchange that
# is not here is refused (RabbitMQ's topic permissions). The gateway may call every
# method: it checks who may do what itself (gateway/auth.py).
RPC_CALLS = {"orders": ("users.get_user", "inventory.get_products")}
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Nameko replies to the caller's reply queue: its routing key is a uuid (Nameko callers)
# or the queue's whole name (the gateway, gateway/rpc/).
_REPLY_KEY = rf"(rpc\.reply-[a-z0-9_]+-)?{_UUID}"
_GATEWAY_REPLY_QUEUE = rf"rpc\.reply-gateway-{_UUID}"
_RETRY_QUEUE = r"shop\.retry\.[0-9]+ms"


def _literal(name):
    # re.escape, minus the escaped dashes that would make the regexes hard to read.
    return re.escape(name).replace("\\-", "-")


def user_name(process, prefix="shop-"):
    return f"{prefix}{process}"


def _classes(service_classes):
    """``{service name: class}`` of the shop's services."""
    found = {}
    for path in service_classes:
        module, _, cls_name = path.partition(":")
        cls = getattr(importlib.import_module(module), cls_name)
        found[cls.name] = cls
    return found


def _either(names):
    """A regex matching exactly these resource names (already escaped or literal)."""
    return "^(" + "|".join(sorted(set(names))) + ")$"


def _service_permissions(name, service_classes):
    attributes = vars(_classes(service_classes)[name]).values()
    handlers = reliable_handlers(service_classes)
    own = [
        (h.source_service, handler_queue_name(h.source_service, h.event_type, name, method))
        for service, method, h in handlers
        if service == name
    ]
    handler_queues = [_literal(queue) for _, queue in own]
    dead_letter_queues = [_literal(f"dlq.{queue}") for _, queue in own]
    sources = [_literal(f"{source}.events") for source, _ in own]
    rpc_queue = _literal(f"rpc-{name}")
    shared = [_literal(RPC_EXCHANGE), _literal(DEAD_LETTER_EXCHANGE.name)]
    shared += [_literal(RETRY_EXCHANGE.name), _RETRY_QUEUE]

    configure = [*shared, rpc_queue, *handler_queues, *dead_letter_queues, *sources]
    write = [
        _literal(RPC_EXCHANGE),  # replies, and calls limited by the topic permission
        rpc_queue,
        *handler_queues,
        *dead_letter_queues,
        _literal(RETRY_EXCHANGE.name),
        _RETRY_QUEUE,
        # Declaring a queue with a dead-letter exchange needs write on that exchange:
        # shop.dead-letter for the handler queues, and the default exchange for the
        # delay queues (extensions.events.retry_queue). Write on the default exchange
        # also lets the service put a message straight into any queue: the gap
        # docs/security.md describes.
        _literal(DEAD_LETTER_EXCHANGE.name),
        _literal("amq.default"),
    ]
    read = [
        _literal(RPC_EXCHANGE),
        rpc_queue,
        *handler_queues,
        *sources,
        _literal(DEAD_LETTER_EXCHANGE.name),
        _literal(RETRY_EXCHANGE.name),
        _RETRY_QUEUE,  # a queue with a dead-letter exchange needs read on itself
    ]
    if any(isinstance(value, Outbox) for value in attributes):
        # It publishes <name>.events and declares its subscribers' queues first.
        exchange = _literal(f"{name}.events")
        subscribers = [
            _literal(handler_queue_name(name, h.event_type, service, method))
            for service, method, h in handlers
            if h.source_service == name
        ]
        configure += [exchange, *subscribers]
        write += [exchange, *subscribers]
        read += [exchange, *subscribers]
    publish_keys, bind_keys = [_REPLY_KEY], [_literal(f"{name}.") + r"\*"]
    if any(isinstance(value, RpcProxy) for value in attributes):
        reply_queue = _literal(f"rpc.reply-{name}-") + _UUID
        configure.append(reply_queue)
        write.append(reply_queue)
        read.append(reply_queue)
        publish_keys += [_literal(call) for call in RPC_CALLS.get(name, ())]
        bind_keys.append(_UUID)
    return configure, write, read, publish_keys, bind_keys


def _gateway_permissions(service_classes):
    rpc_methods = "(" + "|".join(sorted(_classes(service_classes))) + r")\.[a-z_]+"
    resources = [_literal(RPC_EXCHANGE), _GATEWAY_REPLY_QUEUE]
    return resources, resources, resources, [rpc_methods], [_GATEWAY_REPLY_QUEUE]


def permissions(process, service_classes=SERVICE_CLASSES):
    """``{"configure", "write", "read", "topic"}`` for one process, as RabbitMQ takes them."""
    if process == "gateway":
        parts = _gateway_permissions(service_classes)
    else:
        parts = _service_permissions(process, service_classes)
    configure, write, read, publish_keys, bind_keys = parts
    return {
        "configure": _either(configure),
        "write": _either(write),
        "read": _either(read),
        # Routing keys on the RPC exchange: which methods it may call, and what it may
        # bind its own queues with (so no one copies another service's requests).
        "topic": {
            "exchange": RPC_EXCHANGE,
            "write": _either(publish_keys),
            "read": _either(bind_keys),
        },
    }


class Management:
    """The few calls of RabbitMQ's management API that ``apply`` needs."""

    def __init__(self, api, user, password, timeout=10):
        self.api = api.rstrip("/") + "/api"
        self.http = requests.Session()
        self.http.auth = (user, password)
        self.timeout = timeout

    def wait(self, seconds=60):
        """Until the API answers: the management plugin starts after the broker's port."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.http.get(f"{self.api}/overview", timeout=self.timeout).raise_for_status()
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def _put(self, path, body):
        response = self.http.put(f"{self.api}/{path}", json=body, timeout=self.timeout)
        response.raise_for_status()

    def apply(self, vhost, name, password, granted):
        vhost_path = quote(vhost, safe="")
        self._put(f"vhosts/{vhost_path}", {})
        self._put(f"users/{quote(name, safe='')}", {"password": password, "tags": ""})
        body = {key: granted[key] for key in ("configure", "write", "read")}
        self._put(f"permissions/{vhost_path}/{quote(name, safe='')}", body)
        self._put(f"topic-permissions/{vhost_path}/{quote(name, safe='')}", granted["topic"])

    def delete_user(self, name):
        response = self.http.delete(
            f"{self.api}/users/{quote(name, safe='')}", timeout=self.timeout
        )
        if response.status_code != 404:
            response.raise_for_status()


def apply(management, vhost, passwords, prefix="shop-"):
    """Create or update one user per process in ``passwords``; returns their names."""
    names = {}
    for process, password in passwords.items():
        names[process] = user_name(process, prefix)
        management.apply(vhost, names[process], password, permissions(process))
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.broker_users")
    parser.add_argument("command", choices=["show", "apply"])
    args = parser.parse_args(argv)
    if args.command == "show":
        table = {user_name(p): permissions(p) for p in PROCESSES}
        print(json.dumps(table, indent=2))
        return 0
    missing = [
        variable
        for variable in (
            "RABBITMQ_ADMIN_USER",
            "RABBITMQ_ADMIN_PASSWORD",
            *(f"RABBITMQ_{p.upper()}_PASSWORD" for p in PROCESSES),
        )
        if not os.environ.get(variable)
    ]
    if missing:
        print(f"set {', '.join(missing)} (docker/.env.example says how)", file=sys.stderr)
        return 2
    management = Management(
        os.environ.get("RABBITMQ_API", "http://localhost:15672"),
        os.environ["RABBITMQ_ADMIN_USER"],
        os.environ["RABBITMQ_ADMIN_PASSWORD"],
    )
    management.wait()
    vhost = os.environ.get("RABBITMQ_VHOST", "/")
    passwords = {p: os.environ[f"RABBITMQ_{p.upper()}_PASSWORD"] for p in PROCESSES}
    for process, name in apply(management, vhost, passwords).items():
        print(f"{name}: permissions of {process} set on vhost {vhost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
