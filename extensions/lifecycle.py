"""``@on_start``: run a service method once in a worker as the container starts.

The method gets its dependencies injected like any entrypoint, which suits
start-up chores such as bootstrapping an admin account. No other entrypoint of
the service runs a worker before the chore is done: nameko starts every
extension at once, so the RPC consumer would otherwise answer (``health()``
among others, and the gateway would report the shop ready) while the chore is
still running. Messages that arrive meanwhile wait, unacknowledged, and run
once it is done. The container's start waits for the chore too (up to
``timeout`` seconds; the gate stays shut past that until the chore ends). A
chore that fails is logged and the service starts anyway.
"""

import logging

import eventlet
from eventlet.event import Event
from nameko.extensions import Entrypoint

log = logging.getLogger(__name__)


class OnStart(Entrypoint):
    def __init__(self, timeout=30, **kwargs):
        self.timeout = timeout
        self.done = None
        super().__init__(**kwargs)

    def setup(self):
        # Every extension is set up before any is started, so no consumer can
        # spawn a worker before this gate is in place.
        self.done = Event()
        spawn_worker, done = self.container.spawn_worker, self.done

        def spawn_worker_once_started(entrypoint, *args, **kwargs):
            # Called from the consumer's own greenthread for each message, so
            # waiting here holds no worker slot (the chore may need one).
            if not isinstance(entrypoint, OnStart):
                done.wait()
            return spawn_worker(entrypoint, *args, **kwargs)

        self.container.spawn_worker = spawn_worker_once_started

    def start(self):
        def handle_result(worker_ctx, result, exc_info):
            self.done.send()
            return result, exc_info

        self.container.spawn_worker(self, (), {}, handle_result=handle_result)
        with eventlet.Timeout(self.timeout, False):
            self.done.wait()
        if not self.done.ready():
            log.warning(
                "%s.%s still runs after %ss; the service's other entrypoints wait for it",
                self.container.service_name,
                self.method_name,
                self.timeout,
            )


on_start = OnStart.decorator
