"""Admin accounts: the one bootstrapped at start, and the operator's commands.

    python -m users.admin promote EMAIL    # make a live account an admin
    python -m users.admin demote EMAIL     # make it a customer again

The commands change the users database directly (``DB_URIS["users:Base"]`` of
config.yaml, i.e. ``USERS_DB_URI``), not through an RPC method: anything
connected to the broker may call any RPC method, the internet-facing gateway
among them, so a role-changing RPC would put admin rights one compromised
process away. The users database's credentials are the users service's and
its operators' alone.
"""

import argparse
import logging
import sys

from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extensions.config import load_config
from shop.contract import normalize_email
from users import accounts
from users.models import User

log = logging.getLogger(__name__)

ROLE_OF_COMMAND = {"promote": "admin", "demote": "customer"}


def bootstrap(session, email, hash_password):
    """Create the admin ``email`` only if no account ever had that email.

    An existing account, live or deleted, is left exactly as it is: promoting
    it would hand admin rights to whoever signed up with the address first,
    and re-activating it would undo an operator's decision at every restart.
    ``hash_password()`` runs only when the admin is created.
    """
    existing = session.scalars(
        select(User).where(User.email == email).order_by(User.id.desc())
    ).first()
    if existing is not None:
        _log_existing(existing)
        return None
    admin = User(email=email, name="Administrator", password_hash=hash_password(), role="admin")
    session.add(admin)
    try:
        session.flush()
    except IntegrityError:
        # The live-email unique index: another instance starting at the same
        # time (or a sign-up) inserted it since the look-up above.
        session.rollback()
        log.info("admin account not created: %s already exists (created meanwhile)", email)
        return None
    log.info("admin account created: %s (id %s)", email, admin.id)
    return admin


def _log_existing(user):
    state = f"id {user.id}, {user.role}, {user.status}{', deleted' if user.deleted_at else ''}"
    if accounts.is_active_admin(user):
        log.info("admin account not created: %s already exists (%s)", user.email, state)
        return
    log.warning(
        "admin account not created: %s already exists (%s) and is left as it is; "
        "promote it deliberately (python -m users.admin promote) or set another ADMIN_EMAIL",
        user.email,
        state,
    )


def set_role(session, email, role):
    """Give the live account ``email`` the ``role``; returns ``(user, previous role)``."""
    user = session.scalar(
        select(User).where(User.email == normalize_email(email), User.deleted_at.is_(None))
    )
    if user is None:
        raise LookupError(f"no live account has the email {email}")
    previous, user.role = user.role, role
    return user, previous


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m users.admin", description="Promote or demote a user of the shop."
    )
    parser.add_argument("command", choices=sorted(ROLE_OF_COMMAND))
    parser.add_argument("email")
    parser.add_argument("--config", default="config.yaml", help="default: %(default)s")
    args = parser.parse_args(argv)
    role = ROLE_OF_COMMAND[args.command]
    engine = create_engine(load_config(args.config)["DB_URIS"]["users:Base"])
    try:
        with Session(engine) as session, session.begin():
            user, previous = set_role(session, args.email, role)
            done = f"{user.email} (id {user.id}, {user.status}): {previous} -> {role}"
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    # Tokens carry the role: the ones issued before keep it until they expire.
    print(f"{done}; from the next log-in (tokens already issued expire within TOKEN.TTL_SECONDS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
