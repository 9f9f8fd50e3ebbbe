"""The agent side of the Consul double: services, their checks (TTL expiry
included) and the health view, as Consul keeps and answers them."""

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


def duration(text):
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


def canonical(payload, keys):
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


class ServiceCatalog:
    """Services and checks of ``ConsulDouble``; it holds the state and the lock."""

    def register_service(self, payload):
        service = canonical(payload, SERVICE_KEYS)
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
            check = canonical(raw, CHECK_KEYS)
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
                "_ttl": duration(check.get("TTL")),
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
