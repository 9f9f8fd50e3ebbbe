"""What every service class of the shop has besides its own wiring: the
cross-cutting providers and the ``health()`` RPC method.

A service module imports this module, never the class itself: ``nameko run
users.service`` runs every class with entrypoints at the top of the module,
and this one has ``health``. It has no ``name``, so it is no service alone.

    from extensions import scaffolding

    class UsersService(scaffolding.ShopService):
        name = "users"
        db = Database(Base)
"""

from sqlalchemy import select

from extensions.jsonlog import LogContext
from extensions.metrics import Metrics
from extensions.registration import ConsulRegistration
from extensions.rpc import rpc
from extensions.tracing import Tracing


class ShopService:
    """The base of each service class, which adds its ``name`` and its ``db``."""

    # Cross-cutting extensions: spans, Prometheus metrics, Consul, log fields.
    tracer = Tracing()
    metrics = Metrics()
    registration = ConsulRegistration()
    log_context = LogContext()

    @rpc
    def health(self):
        with self.db.get_session() as session:
            session.execute(select(1))
        return {"service": self.name, "status": "ok"}
