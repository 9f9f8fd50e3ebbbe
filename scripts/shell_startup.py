"""`make shell`'s start-up (PYTHONSTARTUP): the shop's error types, imported.

nameko 2.14 turns a remote error back into its class only when the module that
registers the class (``deserialize_to_instance``) has been imported; otherwise a
caller gets ``nameko.exceptions.RemoteError``. With this, ``n.rpc.users.get_user(999)``
raises ``shop.errors.NotFound``, with its ``details``, and the names below
are at hand for ``except``.
"""

from shop.errors import (  # noqa: F401 - for the shell's namespace
    Conflict,
    NotFound,
    Unauthorized,
    Unavailable,
    UpstreamTimeout,
    ValidationError,
)
