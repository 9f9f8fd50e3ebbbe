"""A toy service whose workers wait at a gate, so a test can act while they
are in flight (cut the connection, stop the service) and then let them finish."""

from types import SimpleNamespace

from eventlet.event import Event
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_container

from extensions.events import reliable_event_handler
from tests.polling import eventually

EVENT_QUEUE = "evt-source-happened--slow.on_happened"


class Gate:
    """Workers wait here until the test opens it; later ones pass straight through."""

    def __init__(self):
        self.calls = []
        self.open = Event()

    def enter(self, what):
        self.calls.append(what)
        if not self.open.ready():
            self.open.wait()


class SlowService:
    name = "slow"
    gate = None  # a new Gate per test

    @rpc
    def work(self):
        SlowService.gate.enter("rpc")
        return "done"

    @reliable_event_handler("source", "happened")
    def on_happened(self, payload):
        SlowService.gate.enter("event")


def hold_two_workers(rabbit_config, runner_factory):
    """Start the service and hold one RPC worker and one event worker at the gate.

    Returns ``runner``, ``container``, ``gate``, the RPC's pending ``reply`` and
    the ``proxy`` to stop afterwards.
    """
    gate = SlowService.gate = Gate()
    runner = runner_factory(rabbit_config, SlowService)
    runner.start()
    proxy = ClusterRpcProxy(rabbit_config)
    reply = proxy.start().slow.work.call_async()
    event_dispatcher(rabbit_config)("source", "happened", {"event_id": "e1", "data": {}})
    eventually(lambda: len(gate.calls) == 2)
    return SimpleNamespace(
        runner=runner,
        container=get_container(runner, SlowService),
        gate=gate,
        reply=reply,
        proxy=proxy,
    )
