"""Tiny Nameko services that the RPC client's contract tests call over real RabbitMQ."""

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from shop.errors import Conflict, NotFound, ValidationError


class WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx


class EchoService:
    name = "echo"

    worker_ctx = WorkerContext()

    @rpc
    def echo(self, *args, **kwargs):
        return {"args": list(args), "kwargs": kwargs}

    @rpc
    def context(self):
        """The context data and call id stack this call arrived with."""
        data = {key: value for key, value in self.worker_ctx.context_data.items()}
        data["call_id_stack"] = self.worker_ctx.call_id_stack
        return data

    arrived = 0  # calls that reached ``rendezvous``, shared by the container's workers

    @rpc
    def rendezvous(self, expected, seconds):
        """True when ``expected`` calls were in here at once within ``seconds``."""
        EchoService.arrived += 1
        with eventlet.Timeout(seconds, False):
            while EchoService.arrived < expected:
                eventlet.sleep(0.01)
        return EchoService.arrived >= expected

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)  # the service under test is slow on purpose
        return "done"

    @rpc
    def fail(self, kind):
        errors = {
            "not_found": NotFound("No such thing", {"thing_id": 7}),
            "conflict": Conflict("Already there", {}),
            "invalid": ValidationError("Invalid input", {"name": ["Required."]}),
        }
        if kind in errors:
            raise errors[kind]
        raise RuntimeError("secret internals: password=hunter2")
