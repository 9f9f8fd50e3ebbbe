"""The users that orders knows to exist: a local replica of the users service's answers.

``create_order`` must refuse a user that does not exist or was deleted. Rather
than ask the users service on every order (two messages, a worker and a
transaction in users), orders keeps in its own database each user that users
has confirmed, and the deletions users announces (``user_deleted``). A user
never seen is asked of users at once; a deletion is final, so the two kinds of
news may land in either order. The consistency this gives is in
docs/performance.md, "Orders' replica of users".
"""

from sqlalchemy import bindparam, select

from extensions.db import dialect_insert
from orders.models import KnownUser
from shop.errors import NotFound

_KNOWN = KnownUser.__table__
# Built once: on every order, building the statement would cost more than running it.
_DELETED_AT = select(_KNOWN.c.deleted_at).where(_KNOWN.c.user_id == bindparam("user_id"))


def is_known(session, user_id):
    """True for a user known to exist, False for one never seen; ``NotFound`` once deleted."""
    row = session.execute(_DELETED_AT, {"user_id": user_id}).first()
    if row is None:
        return False
    if row.deleted_at is not None:
        raise NotFound("No such user", {"user_id": user_id})
    return True


def remember(session, user_id):
    """Users has just said the user exists."""
    insert = dialect_insert(session, _KNOWN).values(user_id=user_id)
    session.execute(insert.on_conflict_do_nothing())


def forget(session, user_id, deleted_at):
    """Users has announced the user's deletion (whether orders knew the user or not)."""
    insert = dialect_insert(session, _KNOWN).values(user_id=user_id, deleted_at=deleted_at)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["user_id"], set_={"deleted_at": insert.excluded.deleted_at}
        )
    )
