"""The three-node RabbitMQ cluster of ``scripts/rabbit-cluster.sh``, as the cluster
scenarios drive it: a vhost per test, and nodes stopped, started again and paused.

Only the cluster's own nodes are touched, never the machine's node on 5672.
"""

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from tests.faults.inject import queues
from tests.faults.processes import REPO, SERVICES
from tests.rabbitmqctl import AUTH

SCRIPT = REPO / "scripts" / "rabbit-cluster.sh"
# Processes list the nodes starting from a different one, as docs/scaling.md advises,
# so that their connections (and the queues they declare) spread over the cluster.
PROCESS_KINDS = (*SERVICES, "gateway")


@dataclass(frozen=True)
class Node:
    name: str
    amqp_port: int
    management_port: int

    def uri(self, vhost):
        return f"pyamqp://guest:guest@127.0.0.1:{self.amqp_port}/{quote(vhost, safe='')}"

    @property
    def management(self):
        return f"http://127.0.0.1:{self.management_port}/api"


class RabbitCluster:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.env = {**os.environ, "RABBIT_CLUSTER_DIR": str(state_dir)}
        self.nodes = []

    def _script(self, command):
        done = subprocess.run(
            [str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, f"rabbit-cluster.sh {command}:\n{done.stdout}{done.stderr}"

    def start(self):
        """Start whichever nodes are down (all of them at first) and wait for them."""
        self._script("start")
        lines = (self.state_dir / "nodes").read_text().splitlines()
        self.nodes = [
            Node(name, int(amqp), int(management))
            for name, amqp, management, _dist in (line.split() for line in lines)
        ]

    def stop(self):
        self._script("stop")

    def amqp_uri(self, vhost, first=0):
        """Every node, in failover order, starting with node ``first``."""
        ordered = self.nodes[first:] + self.nodes[:first]
        return ";".join(node.uri(vhost) for node in ordered)

    def amqp_uri_of_process(self, vhost):
        """``Shop``'s ``amqp_uri_of``: "orders-1" starts from another node than "orders-0"."""

        def amqp_uri_of(name):
            kind, _, index = name.rpartition("-")
            return self.amqp_uri(vhost, (PROCESS_KINDS.index(kind) + int(index)) % len(self.nodes))

        return amqp_uri_of

    def management(self, avoiding=None):
        return next(node for node in self.nodes if node != avoiding).management

    @contextlib.contextmanager
    def vhost(self):
        name = f"cluster-{uuid.uuid4().hex[:8]}"
        api = self.management()
        for path in (f"vhosts/{name}", f"permissions/{name}/guest"):
            body = (
                {}
                if path.startswith("vhosts")
                else {"configure": ".*", "write": ".*", "read": ".*"}
            )
            requests.put(f"{api}/{path}", json=body, auth=AUTH, timeout=30).raise_for_status()
        try:
            yield name
        finally:
            requests.delete(f"{api}/vhosts/{name}", auth=AUTH, timeout=30)

    def busiest_leader(self, amqp_uri):
        """The node leading the quorum queues that carried the most messages so far."""
        traffic = Counter()
        for queue in queues(amqp_uri, self.management()):
            if queue.get("type") == "quorum" and queue.get("leader"):
                stats = queue.get("message_stats", {})
                traffic[queue["leader"]] += 1 + stats.get("publish", 0)
        leader = traffic.most_common(1)[0][0]
        return next(node for node in self.nodes if node.name == leader)

    def _rabbitmqctl(self, node, command):
        subprocess.run(
            ["rabbitmqctl", "-n", node.name, command], check=True, capture_output=True, timeout=120
        )

    def stop_node(self, node):
        """Stop the node's Erlang VM; ``start`` boots it again."""
        self._rabbitmqctl(node, "stop")

    def restart_app(self, node):
        """Stop RabbitMQ on the node and start it again, in its running VM: to clients
        and queues a restart, without a VM's boot time."""
        self._rabbitmqctl(node, "stop_app")
        self._rabbitmqctl(node, "start_app")

    def wait_until_not_quorum_critical(self, node, timeout=60):
        """Until stopping ``node`` leaves every quorum queue a majority of members in
        sync: what RabbitMQ's own rolling-upgrade guide checks before each node."""
        deadline = time.monotonic() + timeout
        while (
            subprocess.run(
                ["rabbitmq-queues", "-n", node.name, "check_if_node_is_quorum_critical"],
                capture_output=True,
                timeout=60,
            ).returncode
            != 0
        ):
            assert time.monotonic() < deadline, f"{node.name} still quorum critical"
            time.sleep(1)

    def pause(self, node, seconds):
        """SIGSTOP the node's Erlang VM for ``seconds``, then SIGCONT (always)."""
        data = (self.state_dir / "data").read_text().strip()
        pid = int((Path(data) / node.name.split("@")[0] / "rabbitmq.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)  # the pause itself
        finally:
            os.kill(pid, signal.SIGCONT)
