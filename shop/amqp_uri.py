"""``AMQP_URI``: one RabbitMQ node, or the nodes of a cluster in kombu's failover form.

    pyamqp://shop-orders:secret@rabbit-1:5672/shop;pyamqp://shop-orders:secret@rabbit-2:5672/shop

Each node is a whole URI (user, password and vhost included), as kombu takes it:
``kombu.Connection`` connects to the first and, when a connection fails or is
lost, to the next, round-robin. The services (nameko's consumers and
publishers, and the shop's own connections) pass the value to kombu as it is;
the gateway's pika client reads the same value with ``node_uris``. List the
nodes in a different order for different processes to spread their
connections; a cluster behind one load-balanced address (Kubernetes' Service)
needs a single URI.
"""

from urllib.parse import urlsplit, urlunsplit

SEPARATOR = ";"


def node_uris(amqp_uri):
    """The URI of each node, in the order they are tried."""
    nodes = [uri.strip() for uri in amqp_uri.split(SEPARATOR) if uri.strip()]
    if not nodes:
        raise ValueError("AMQP_URI names no broker node")
    return nodes


def redacted(amqp_uri):
    """``amqp_uri`` with every node's password masked, fit for a log line."""
    return SEPARATOR.join(_without_password(uri) for uri in node_uris(amqp_uri))


def _without_password(uri):
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
