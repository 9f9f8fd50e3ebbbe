"""The HTTP endpoint of a service process: ``/metrics``, ``/health/live``, ``/health/ready``.

One server per port and process, shared by every service container running
in it (``nameko run users.service orders.service`` serves one port): each
container that starts ``acquire``s it and is then part of the readiness
answer; the last one to stop closes it.
"""

import json
import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app

from extensions import health

log = logging.getLogger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """Probes every few seconds would drown the service's own log lines."""


class _Endpoint:
    def __init__(self, port, address):
        self.containers = []
        self.heartbeat = health.Heartbeat()
        self.metrics = make_wsgi_app(REGISTRY)
        self.server = make_server(address, port, self.app, _Server, _QuietHandler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name=f"endpoint-{port}", daemon=True
        )
        self.thread.start()

    def app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/health/live":
            return _json(start_response, *health.liveness(self.heartbeat))
        if path == "/health/ready":
            return _json(start_response, *health.readiness(list(self.containers)))
        return self.metrics(environ, start_response)

    def close(self):
        self.heartbeat.stop()
        self.server.shutdown()
        self.server.server_close()


def _json(start_response, ok, body):
    payload = json.dumps({"status": "ok" if ok else "failing", **body}).encode()
    status = "200 OK" if ok else "503 Service Unavailable"
    start_response(status, [("Content-Type", "application/json")])
    return [payload]


_lock = threading.Lock()
_endpoints = {}  # port -> _Endpoint


def acquire(port, address, container):
    """Serve ``port`` (if not served yet) and count ``container`` in its readiness."""
    with _lock:
        endpoint = _endpoints.get(port)
        if endpoint is None:
            try:
                endpoint = _endpoints[port] = _Endpoint(port, address)
            except OSError as exc:
                log.warning("metrics and health not served: port %s: %s", port, exc)
                return False
            log.info("metrics and health served on http://%s:%s/", address, port)
        endpoint.containers.append(container)
        return True


def release(port, container):
    with _lock:
        endpoint = _endpoints.get(port)
        if endpoint is None:
            return
        endpoint.containers.remove(container)
        if not endpoint.containers:
            del _endpoints[port]
            endpoint.close()
