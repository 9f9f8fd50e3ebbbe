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

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

NODE = {
    "ID": "6b5e2b3c-0000-4000-8000-000000000001",
    "Node": "consul-double",
    "Address": "127.0.0.1",
    "Datacenter": "dc1",
    "TaggedAddresses": {"lan": "127.0.0.1", "wan": "127.0.0.1"},
    "Meta": {},
}
SERF_CHECK = {
    "Node": NODE["Node"],
    "CheckID": "serfHealth",
    "Name": "Serf Health Status",
    "Status": "passing",
    "Notes": "",
    "Output": "Agent alive and reachable",
    "ServiceID": "",
    "ServiceName": "",
    "ServiceTags": [],
    "Type": "",
}
STATUSES = {"pass": "passing", "warn": "warning", "fail": "critical"}


def _duration(text):
    """Consul's Go durations as seconds: "10s", "1m", "500ms", "1m30s"."""
    if not text:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = "ms" if text[index : index + 2] == "ms" else char
        total += float(number) * units[unit]
        number, index = "", index + len(unit)
    return total


def _canonical(payload, keys):
    """Consul decodes JSON keys case-insensitively (``name`` == ``Name``)."""
    by_lower = {key.lower(): key for key in keys}
    return {by_lower.get(key.lower(), key): value for key, value in payload.items()}


SERVICE_KEYS = ("ID", "Name", "Tags", "Address", "Port", "Meta", "Check", "Checks", "Weights")
CHECK_KEYS = (
    "CheckID",
    "ID",
    "Name",
    "Notes",
    "Status",
    "TTL",
    "HTTP",
    "Interval",
    "Timeout",
    "TCP",
    "Method",
    "Header",
    "DeregisterCriticalServiceAfter",
)


class ConsulDouble:
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

    # State -------------------------------------------------------------

    def _bump(self):
        self.index += 1
        self.changed.notify_all()

    def _block(self, query):
        """A blocking query waits until the index passes ``?index`` or ``?wait`` runs out."""
        if "index" not in query:
            return
        deadline = time.monotonic() + min(_duration(query.get("wait") or "5m"), 10.0)
        while self.index <= int(query["index"]) and not self.failing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.changed.wait(remaining)

    def register_service(self, payload):
        service = _canonical(payload, SERVICE_KEYS)
        if not service.get("Name"):
            return 400, "Missing service name"
        service_id = service.get("ID") or service["Name"]
        checks = list(service.get("Checks") or [])
        if service.get("Check"):
            checks.insert(0, service["Check"])
        self.deregister_service(service_id)
        self.services[service_id] = {
            "ID": service_id,
            "Service": service["Name"],
            "Tags": list(service.get("Tags") or []),
            "Meta": dict(service.get("Meta") or {}),
            "Port": int(service.get("Port") or 0),
            "Address": service.get("Address") or "",
            "Weights": service.get("Weights") or {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "Datacenter": NODE["Datacenter"],
        }
        for number, raw in enumerate(checks, start=1):
            check = _canonical(raw, CHECK_KEYS)
            check_id = check.get("CheckID") or check.get("ID")
            if not check_id:
                check_id = f"service:{service_id}" + (f":{number}" if len(checks) > 1 else "")
            kind = "ttl" if check.get("TTL") else "http" if check.get("HTTP") else "tcp"
            self.checks[check_id] = {
                "Node": NODE["Node"],
                "CheckID": check_id,
                "Name": check.get("Name") or f"Service '{service['Name']}' check",
                # Consul starts a check as critical unless told otherwise.
                "Status": check.get("Status") or "critical",
                "Notes": check.get("Notes") or "",
                "Output": "",
                "ServiceID": service_id,
                "ServiceName": service["Name"],
                "ServiceTags": list(service.get("Tags") or []),
                "Type": kind,
                "Definition": {
                    key: check[key]
                    for key in ("HTTP", "Interval", "Timeout", "TTL")
                    if key in check
                }
                | {
                    "DeregisterCriticalServiceAfter": check.get(
                        "DeregisterCriticalServiceAfter", ""
                    )
                },
                "_ttl": _duration(check.get("TTL")),
                "_updated": self.clock(),
            }
        self._bump()
        return 200, ""

    def deregister_service(self, service_id):
        if service_id not in self.services:
            return 404, f'Unknown service ID "{service_id}". Ensure that the service ID is passed'
        del self.services[service_id]
        for check_id in [
            c for c, check in self.checks.items() if check["ServiceID"] == service_id
        ]:
            del self.checks[check_id]
        self._bump()
        return 200, ""

    def update_check(self, check_id, status, output):
        check = self.checks.get(check_id)
        if check is None:
            return 404, f'Unknown check ID "{check_id}". Ensure that the check ID is passed'
        if check["_ttl"] is None:
            return 500, f'CheckID "{check_id}" does not have associated TTL'
        check.update(Status=status, Output=output or "", _updated=self.clock())
        self._bump()
        return 200, ""

    def _public_check(self, check):
        status = check["Status"]
        if check["_ttl"] is not None and self.clock() - check["_updated"] > check["_ttl"]:
            status, output = "critical", "TTL expired"
        else:
            output = check["Output"]
        return {k: v for k, v in check.items() if not k.startswith("_")} | {
            "Status": status,
            "Output": output,
        }

    def health(self, name, passing):
        entries = []
        for service_id, service in sorted(self.services.items()):
            if service["Service"] != name:
                continue
            checks = [SERF_CHECK] + [
                self._public_check(c) for c in self.checks.values() if c["ServiceID"] == service_id
            ]
            if passing and any(c["Status"] != "passing" for c in checks):
                continue
            entries.append({"Node": NODE, "Service": service, "Checks": checks})
        return entries

    def status(self, check_id):
        return self._public_check(self.checks[check_id])["Status"]

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
                update = _canonical(json.loads(body or b"{}"), ("Status", "Output"))
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

    def route_kv(self, method, key, query, body):
        if method == "PUT":
            entry = self.kv.get(key)
            self._bump()
            self.kv[key] = {
                "Key": key,
                "Value": base64.b64encode(body).decode() if body else None,
                "Flags": int(query.get("flags", 0)),
                "CreateIndex": entry["CreateIndex"] if entry else self.index,
                "ModifyIndex": self.index,
                "LockIndex": 0,
                "Session": None,
            }
            return 200, True
        if method == "DELETE":
            doomed = [k for k in self.kv if k.startswith(key)] if "recurse" in query else [key]
            for doomed_key in doomed:
                self.kv.pop(doomed_key, None)
            self._bump()
            return 200, True
        if "recurse" in query or "keys" in query:
            entries = [self.kv[k] for k in sorted(self.kv) if k.startswith(key)]
        else:
            entries = [self.kv[key]] if key in self.kv else []
        if not entries:
            return 404, ""
        if "keys" in query:
            return 200, [entry["Key"] for entry in entries]
        if "raw" in query:
            return 200, base64.b64decode(entries[0]["Value"] or "")
        return 200, entries
