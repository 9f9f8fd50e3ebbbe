"""The key/value side of the Consul double (``/v1/kv/<key>``)."""

import base64


class KeyValueStore:
    """``ConsulDouble``'s KV: values base64 in JSON, ``?raw``, ``?keys``, ``?recurse``."""

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
