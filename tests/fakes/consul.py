"""An in-process stand-in for a Consul agent's HTTP API.

It follows the documented endpoints the shop uses (and answers like Consul
does: status codes, key casing, check ids, TTL expiry, base64 KV values):

    PUT    /v1/agent/service/register          (Name, ID, Tags, Address, Port, Meta, Check(s))
    PUT    /v1/agent/service/deregister/<id>   404 for an unknown service
    PUT    /v1/agent/check/pass|warn|fail/<id> ?note=   404 unknown, 500 for a non-TTL check
    PUT    /v1/agent/check/update/<id>         {"Status", "Output"}
    GET    /v1/agent/checks, /v1/agent/services, /v1/agent/service/<id>
    GET    /v1/health/service/<name>           ?passing filters to all-passing instances
    GET/PUT/DELETE /v1/kv/<key>                ?recurse, ?raw, ?keys
    GET    /v1/status/leader, /v1/agent/self, /v1/catalog/services
    (what Prometheus's consul_sd_configs reads, with blocking ?index=&wait=)

Every request is recorded in ``requests`` so tests can assert payloads.
``outage()`` makes every endpoint answer 500 until ``recover()``.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes.consul_catalog import NODE, ServiceCatalog, canonical, duration
from tests.fakes.consul_kv import KeyValueStore

STATUSES = {"pass": "passing", "warn": "warning", "fail": "critical"}


class ConsulDouble(ServiceCatalog, KeyValueStore):
    """The HTTP server and its routing; services and checks are ``ServiceCatalog``'s
    (``tests.fakes.consul_catalog``), keys ``KeyValueStore``'s (``tests.fakes.consul_kv``)."""

    def __init__(self, host="127.0.0.1", port=0, clock=time.monotonic):
        self.clock = clock
        self.services = {}
        self.checks = {}
        self.kv = {}
        self.requests = []
        self.index = 1
        self.failing = False
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]
        self.thread = None

    def reset(self):
        with self.lock:
            self.services.clear()
            self.checks.clear()
            self.kv.clear()
            self.requests.clear()
            self.failing = False
            self._bump()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def outage(self):
        self.failing = True

    def recover(self):
        self.failing = False

    def requests_to(self, method, prefix):
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(prefix)]

    # Blocking queries ----------------------------------------------------

    def _bump(self):
        self.index += 1
        self.changed.notify_all()

    def _block(self, query):
        """A blocking query waits until the index passes ``?index`` or ``?wait`` runs out."""
        if "index" not in query:
            return
        deadline = time.monotonic() + min(duration(query.get("wait") or "5m"), 10.0)
        while self.index <= int(query["index"]) and not self.failing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.changed.wait(remaining)

    # HTTP --------------------------------------------------------------

    def _handler_class(double):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._dispatch("GET")

            def do_PUT(self):
                self._dispatch("PUT")

            def do_DELETE(self):
                self._dispatch("DELETE")

            def _dispatch(self, method):
                parsed = urlparse(self.path)
                query = {key: values[-1] for key, values in parse_qs(parsed.query, True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = unquote(parsed.path)
                with double.lock:
                    double.requests.append(
                        {
                            "method": method,
                            "path": path,
                            "query": query,
                            "body": body,
                            "token": self.headers.get("X-Consul-Token") or query.get("token"),
                        }
                    )
                    if method == "GET":
                        double._block(query)
                    if double.failing:
                        status, result = 500, "rpc error making call: No cluster leader"
                    else:
                        status, result = double.route(method, path, query, body)
                self._reply(status, result)

            def _reply(self, status, result):
                if isinstance(result, bytes):
                    data, kind = result, "application/octet-stream"
                elif isinstance(result, str):
                    data, kind = result.encode(), "text/plain; charset=utf-8"
                else:
                    data, kind = json.dumps(result).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Consul-Index", str(double.index))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def route(self, method, path, query, body):
        parts = path.strip("/").split("/", 3)
        if parts[:1] != ["v1"] or len(parts) < 2:
            return 404, "Not found"
        section = parts[1]
        if section == "kv":
            return self.route_kv(method, path[len("/v1/kv/") :], query, body)
        if section == "status" and path == "/v1/status/leader":
            return 200, '"127.0.0.1:8300"'
        if method == "GET" and path == "/v1/agent/self":
            return 200, {"Config": {"Datacenter": NODE["Datacenter"], "NodeName": NODE["Node"]}}
        if method == "GET" and path == "/v1/catalog/services":
            catalog = {"consul": []}
            for service in self.services.values():
                tags = catalog.setdefault(service["Service"], [])
                tags.extend(tag for tag in service["Tags"] if tag not in tags)
            return 200, catalog
        if method == "PUT" and path == "/v1/agent/service/register":
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return 400, "Request decode failed"
            return self.register_service(payload)
        if method == "PUT" and path.startswith("/v1/agent/service/deregister/"):
            return self.deregister_service(path.rsplit("/", 1)[1])
        if method == "PUT" and path.startswith("/v1/agent/check/"):
            action, check_id = path[len("/v1/agent/check/") :].split("/", 1)
            if action in STATUSES:
                return self.update_check(check_id, STATUSES[action], query.get("note"))
            if action == "update":
                update = canonical(json.loads(body or b"{}"), ("Status", "Output"))
                return self.update_check(check_id, update.get("Status"), update.get("Output"))
        if method == "GET" and path == "/v1/agent/checks":
            return 200, {cid: self._public_check(c) for cid, c in self.checks.items()}
        if method == "GET" and path == "/v1/agent/services":
            return 200, self.services
        if method == "GET" and path.startswith("/v1/agent/service/"):
            service = self.services.get(path.rsplit("/", 1)[1])
            return (200, service) if service else (404, "unknown service ID")
        if method == "GET" and path.startswith("/v1/health/service/"):
            passing = "passing" in query and query["passing"] not in ("false", "0")
            return 200, self.health(path.rsplit("/", 1)[1], passing)
        return 405 if method not in ("GET", "PUT") else 404, "method or path not supported"
