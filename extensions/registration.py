"""Consul registration for Nameko services (and the gateway).

    class OrdersService:
        name = "orders"
        registration = ConsulRegistration()

On start the instance registers with the local Consul agent under a unique
id, with its address, its metrics port (what Prometheus discovers and
scrapes), tags, version meta and a TTL health check that a background thread
keeps passing. On a clean stop it deregisters; if it dies instead, Consul
drops it after ``DEREGISTER_AFTER``. A missing or failing Consul never stops
the service: it runs unregistered and keeps retrying, and the process logs one
short line about it, however many services it runs.

Config (``CONSUL``): ``ENABLED``, ``HOST``, ``PORT``, ``SCHEME``, ``TOKEN``,
``ADDRESS`` (advertised; default the host name), ``TAGS``, ``TTL_SECONDS``,
``DEREGISTER_AFTER``, ``RETRY_MAX_SECONDS``, ``TIMEOUT_SECONDS``, ``KV_PREFIX``.
"""

import json
import logging
import os
import socket
import threading
import uuid

import consul
import requests
import yaml
from consul.base import CB
from nameko.extensions import DependencyProvider

from shop.version import shop_version

log = logging.getLogger(__name__)


def _enabled(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class _TimeoutSession(requests.Session):
    """python-consul sets no timeout; a Consul that hangs must not hang a stop."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def consul_client(consul_config):
    client = consul.Consul(
        host=str(consul_config.get("HOST") or "127.0.0.1"),
        port=int(consul_config.get("PORT") or 8500),
        scheme=str(consul_config.get("SCHEME") or "http"),
        token=consul_config.get("TOKEN") or None,
    )
    client.http.session = _TimeoutSession(float(consul_config.get("TIMEOUT_SECONDS") or 3))
    return client


# The Consul addresses this process has said are unavailable, so that three services
# in one process (``nameko run`` of the shop) say it once; forgotten when one of its
# agents registers or stops.
_reported_unavailable = set()
_report_lock = threading.Lock()


def _forget_report(uri):
    with _report_lock:
        _reported_unavailable.discard(uri)


def _root_cause(exc):
    """The innermost error in a few words ("Connection refused"), not urllib3's whole chain."""
    while (cause := exc.__cause__ or exc.__context__) is not None:
        exc = cause
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class ConsulAgent:
    """One service instance's registration and heartbeat; no Nameko needed."""

    def __init__(self, consul_config, name, port, tags=(), meta=None):
        self.config = consul_config
        self.name = name
        self.port = int(port or 0)
        self.address = str(consul_config.get("ADDRESS") or socket.gethostname())
        self.service_id = f"{name}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.check_id = f"service:{self.service_id}"
        configured = consul_config.get("TAGS") or []
        if isinstance(configured, str):  # "${CONSUL_TAGS:shop,blue}"
            configured = [tag.strip() for tag in configured.split(",") if tag.strip()]
        self.tags = list(configured) + list(tags)
        self.meta = {"version": shop_version(), "pid": str(os.getpid())} | dict(meta or {})
        self.ttl = float(consul_config.get("TTL_SECONDS") or 15)
        self.deregister_after = str(consul_config.get("DEREGISTER_AFTER") or "1m")
        self.retry_max = float(consul_config.get("RETRY_MAX_SECONDS") or 30)
        self.client = consul_client(consul_config)
        self.registered = False
        self.stopped = threading.Event()
        # A stop() waits for a registration under way, so that it deregisters what
        # that registration made.
        self.registering = threading.Lock()

    def payload(self):
        return {
            "ID": self.service_id,
            "Name": self.name,
            "Tags": self.tags,
            "Address": self.address,
            "Port": self.port,
            "Meta": self.meta,
            "Check": {
                "CheckID": self.check_id,
                "Name": f"{self.name} heartbeat",
                "TTL": f"{self.ttl:g}s",
                "DeregisterCriticalServiceAfter": self.deregister_after,
            },
        }

    def register(self):
        # python-consul's register() predates service Meta: send the documented payload.
        params = [("token", self.client.token)] if self.client.token else []
        self.client.http.put(
            CB.bool(),
            "/v1/agent/service/register",
            params=params,
            data=json.dumps(self.payload()),
        )
        self.client.agent.check.ttl_pass(self.check_id, "registered")
        self.registered = True

    def heartbeat(self):
        if not self.client.agent.check.ttl_pass(self.check_id, "alive"):
            # A 404: the agent lost us (restarted, or reaped us after an outage).
            self.registered = False
            self.register()

    def deregister(self):
        if not self.registered:
            return
        self.registered = False
        try:
            self.client.agent.service.deregister(self.service_id)
            log.info("deregistered %s from Consul", self.service_id)
        except Exception as exc:
            log.warning("could not deregister %s from Consul: %s", self.service_id, exc)

    def run(self):
        """Register, then heartbeat every third of the TTL, until ``stop()``."""
        delay, warned = 1.0, False
        while not self.stopped.is_set():
            try:
                with self.registering:
                    if self.stopped.is_set():
                        break
                    if self.registered:
                        self.heartbeat()
                    else:
                        self.register()
                        log.info("registered %s with Consul as %s", self.name, self.service_id)
                        _forget_report(self.client.http.base_uri)
                delay, warned = 1.0, False
            except Exception as exc:
                self.registered = False
                if not warned:
                    self._report_unavailable(exc)
                    warned = True
                delay = min(delay * 2, self.retry_max)
            self.stopped.wait(self.ttl / 3 if self.registered else delay)

    def _report_unavailable(self, exc):
        uri = self.client.http.base_uri
        with _report_lock:
            if uri in _reported_unavailable or self.stopped.is_set():
                return
            _reported_unavailable.add(uri)
        log.warning(
            "Consul at %s is unavailable (%s); this process runs unregistered and keeps trying",
            uri,
            _root_cause(exc),
        )

    def start_thread(self):
        thread = threading.Thread(target=self.run, name=f"consul-{self.name}", daemon=True)
        thread.start()
        return thread

    def stop(self):
        self.stopped.set()
        _forget_report(self.client.http.base_uri)
        with self.registering:
            self.deregister()


def kv_overlay(config, consul_config=None):
    """``config`` updated from Consul KV: ``<KV_PREFIX>/OUTBOX/BATCH_SIZE: 50`` etc.

    Values are YAML (``50`` is a number). Returns the keys applied; a Consul
    that cannot be reached leaves the config as it is.
    """
    consul_config = consul_config if consul_config is not None else config.get("CONSUL", {})
    prefix = str(consul_config.get("KV_PREFIX") or "shop/config").strip("/") + "/"
    try:
        _, entries = consul_client(consul_config).kv.get(prefix, recurse=True)
    except Exception as exc:
        log.warning("Consul KV not read (%s); config.yaml's values apply", _root_cause(exc))
        return []
    applied = []
    for entry in entries or []:
        path = [part for part in entry["Key"][len(prefix) :].split("/") if part]
        if not path or entry.get("Value") is None:
            continue
        target = config
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = yaml.safe_load(entry["Value"].decode())
        applied.append("/".join(path))
    return applied


def overlay_consul_kv(config):
    """``kv_overlay`` when ``CONSUL.ENABLED``; the keys applied."""
    consul_config = config.get("CONSUL") or {}
    if not _enabled(consul_config.get("ENABLED", False)):
        return []
    return kv_overlay(config, consul_config)


def start_agent(config, name, port, tags=(), meta=None):
    """Register a process that is not a Nameko service (the gateway) and keep it
    registered from a daemon thread; returns the agent (``stop()`` it at exit),
    or None when ``CONSUL.ENABLED`` is off."""
    consul_config = config.get("CONSUL") or {}
    if not _enabled(consul_config.get("ENABLED", False)):
        return None
    agent = ConsulAgent(consul_config, name, port, tags=tags, meta=meta)
    agent.start_thread()
    return agent


class ConsulRegistration(DependencyProvider):
    """Registers the service instance with Consul while the container runs."""

    def __init__(self, tags=()):
        self.tags = tags
        self.agent = None

    def setup(self):
        config = self.container.config
        consul_config = config.get("CONSUL") or {}
        if not _enabled(consul_config.get("ENABLED", False)):
            return
        port = (config.get("METRICS") or {}).get("PORT") or 0
        self.agent = ConsulAgent(
            consul_config,
            self.container.service_name,
            port,
            tags=["nameko", *self.tags],
            meta={"metrics_port": str(port), "max_workers": str(self.container.max_workers)},
        )

    def start(self):
        if self.agent is not None:
            self.container.spawn_managed_thread(self.agent.run, identifier="consul.registration")

    def stop(self):
        if self.agent is not None:
            self.agent.stop()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.agent
