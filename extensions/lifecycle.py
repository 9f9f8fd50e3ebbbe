"""``@on_start``: run a service method once in a worker when the container starts.

It gets its dependencies injected like any entrypoint, which suits start-up
chores such as bootstrapping an admin account.
"""

from nameko.extensions import Entrypoint


class OnStart(Entrypoint):
    def start(self):
        self.container.spawn_worker(self, (), {})


on_start = OnStart.decorator
