"""Peer (a): the same Flask app, calling services through a pool of ``ClusterRpcProxy``.

Served by gunicorn exactly like ours: ``gunicorn ... bench.proxy_gateway:app``.
"""

import os
import queue

from nameko.exceptions import RemoteError as NamekoRemoteError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from gateway.app import create_app
from gateway.rpc import RemoteError, ServiceUnavailable, UpstreamTimeout
from shop.errors import ShopError


class ProxyPoolClient:
    """``RpcClient.call`` on a pool of started ``ClusterRpcProxy`` (one per thread at a time)."""

    def __init__(self, amqp_uri, timeout=5.0):
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self._idle = queue.LifoQueue()

    def call(self, service, method, *args, context=None, timeout=None, **kwargs):
        try:
            proxy, cluster = self._idle.get_nowait()
        except queue.Empty:
            proxy = ClusterRpcProxy(self.config, timeout=timeout or self.timeout)
            cluster = proxy.start()
        try:
            result = getattr(cluster[service], method)(*args, **kwargs)
        except ShopError as exc:  # registered types arrive as themselves
            self._idle.put((proxy, cluster))
            raise RemoteError(type(exc).__name__, [exc.message, exc.details]) from None
        except NamekoRemoteError as exc:
            self._idle.put((proxy, cluster))
            raise RemoteError(exc.exc_type, [], exc.value) from None
        except UnknownService:
            self._idle.put((proxy, cluster))
            raise ServiceUnavailable(service) from None
        except RpcTimeout:
            proxy.stop()  # its reply may still come: do not reuse
            raise UpstreamTimeout(service) from None
        self._idle.put((proxy, cluster))
        return result

    def ping(self):
        self.call("users", "health")


app = create_app(rpc_client=ProxyPoolClient(os.environ["AMQP_URI"]))
