"""``@on_start``: run a service method once in a worker as the container starts.

The method gets its dependencies injected like any entrypoint, which suits
start-up chores such as bootstrapping an admin account. The container's start
waits for it (up to ``timeout`` seconds), so a started service has done its
chores; a chore that fails is logged and the service starts anyway.
"""

from eventlet.event import Event
from nameko.extensions import Entrypoint


class OnStart(Entrypoint):
    def __init__(self, timeout=30, **kwargs):
        self.timeout = timeout
        super().__init__(**kwargs)

    def start(self):
        done = Event()

        def handle_result(worker_ctx, result, exc_info):
            done.send()
            return result, exc_info

        self.container.spawn_worker(self, (), {}, handle_result=handle_result)
        done.wait(self.timeout)


on_start = OnStart.decorator
