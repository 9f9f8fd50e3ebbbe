"""The users service's reads and writes of its database, each in the caller's session."""

from sqlalchemy import select, update

from shop.errors import NotFound
from users.models import User

# Deleted accounts stay as rows (their email may sign up again): every look-up skips them.
LIVE_USERS = select(User).where(User.deleted_at.is_(None))


def live_user(session, user_id):
    """The live account ``user_id``; ``NotFound`` if it does not exist or was deleted."""
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("No such user", {"user_id": user_id})
    return user


def live_user_by_email(session, email):
    """The live account of ``email`` (normalized), or None."""
    return session.scalar(LIVE_USERS.where(User.email == email))


def add_points(session, user_id, points):
    """Add ``points`` to the account's (deleted or not); ``NotFound`` if there is none."""
    # One atomic UPDATE: two completions for one user at once both count.
    added = session.execute(
        update(User).where(User.id == user_id).values(points=User.points + points)
    )
    if added.rowcount == 0:
        raise NotFound("No such user", {"user_id": user_id})
