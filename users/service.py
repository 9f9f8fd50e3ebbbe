"""The users service: accounts, log-in and loyalty points."""

from eventlet import tpool
from nameko.dependency_providers import Config

from extensions import scaffolding
from extensions.db import Database, flush_or_raise, paginate, utcnow
from extensions.envelopes import once_per_event
from extensions.events import reliable_event_handler
from extensions.lifecycle import on_start
from extensions.outbox import Outbox
from extensions.rpc import rpc
from extensions.token_settings import TokenSettings
from shop.contract import DEFAULT_PER_PAGE, normalize_email
from shop.errors import Conflict, Unauthorized
from shop.validation import load, page_args, positive_id
from users import accounts, admin, queries
from users.models import Base, OutboxMessage, ProcessedEvent, User
from users.schemas import (
    CreateUserSchema,
    LoginSchema,
    SignUpKeySchema,
    UpdateUserSchema,
    UserSchema,
)

user_schema = UserSchema()


def _email_taken():
    return Conflict("Email is already registered", {"email": ["Already registered."]})


class UsersService(scaffolding.ShopService):
    name = "users"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)
    config = Config()
    # TOKEN, checked at start: the service refuses to sign tokens with a known secret.
    token = TokenSettings()

    @rpc
    def create_user(self, data, idempotency_key=None):
        fields = load(CreateUserSchema(), data)
        key = load(SignUpKeySchema(), {"idempotency_key": idempotency_key})["idempotency_key"]
        # Hashing is CPU-bound C code that releases the GIL: a real thread keeps
        # the eventlet hub (and the other workers) running meanwhile.
        password_hash = tpool.execute(accounts.hash_password, fields["password"])
        user = User(
            email=normalize_email(fields["email"]),
            name=fields["name"],
            password_hash=password_hash,
            signup_key=key,
        )
        try:
            with self.db.get_session() as session:
                session.add(user)
                flush_or_raise(session, _email_taken)
                return user_schema.dump(user)
        except Conflict:
            if key is None:
                raise
            return self._account_this_sign_up_made(fields, key)

    def _account_this_sign_up_made(self, fields, key):
        """The account this very sign-up made on an earlier run; else the email is taken."""
        with self.db.read() as session:
            earlier = queries.live_user_by_email(session, normalize_email(fields["email"]))
            if not (
                accounts.may_be_the_same_sign_up(earlier, fields["name"], key, utcnow())
                and tpool.execute(
                    accounts.verify_password, earlier.password_hash, fields["password"]
                )
            ):
                raise _email_taken()
            return user_schema.dump(earlier)

    @rpc
    def get_user(self, user_id):
        with self.db.read() as session:
            return user_schema.dump(queries.live_user(session, positive_id(user_id, "user_id")))

    @rpc
    def list_users(self, page=1, per_page=DEFAULT_PER_PAGE):
        page, per_page = page_args(page, per_page)
        with self.db.get_session() as session:
            return paginate(session, queries.LIVE_USERS, User.id, page, per_page, user_schema)

    @rpc
    def update_user(self, user_id, data):
        changes = load(UpdateUserSchema(), data)
        if "email" in changes:
            changes["email"] = normalize_email(changes["email"])
        if "password" in changes:
            changes["password_hash"] = tpool.execute(
                accounts.hash_password, changes.pop("password")
            )
        with self.db.get_session() as session:
            user = queries.live_user(session, positive_id(user_id, "user_id"))
            for field, value in changes.items():
                setattr(user, field, value)
            flush_or_raise(session, _email_taken)
            return user_schema.dump(user)

    @rpc
    def delete_user(self, user_id):
        with self.db.get_session() as session:
            user = queries.live_user(session, positive_id(user_id, "user_id"))
            user.deleted_at = utcnow()
            # Orders keeps a replica of the users it knows (orders/known_users.py).
            self.outbox.add(session, "user_deleted", {"user_id": user.id})
            return {"id": user.id, "deleted": True}

    @rpc
    def login(self, email, password):
        credentials = load(LoginSchema(), {"email": email, "password": password})
        with self.db.get_session() as session:
            email = normalize_email(credentials["email"])
            user = queries.live_user_by_email(session, email)
            password_hash = user.password_hash if user else None
        # One answer for an unknown email, a wrong password and a disabled account, so
        # that a login never tells whether an account exists (docs/security.md).
        verified = tpool.execute(accounts.verify_password, password_hash, credentials["password"])
        if not verified or not accounts.can_log_in(user):
            raise Unauthorized("Invalid email or password")
        return accounts.issue_token(
            user,
            self.token["SECRET"],
            self.token["ALGORITHM"],
            int(self.token["TTL_SECONDS"]),
            utcnow(),
        )

    @reliable_event_handler("orders", "order_completed")
    @once_per_event(ProcessedEvent, "add_points")
    def add_points_for_completed_order(self, session, order):
        queries.add_points(session, order["user_id"], accounts.points_for_total(order["total"]))

    @on_start
    def bootstrap_admin(self):
        """Create the ADMIN_EMAIL / ADMIN_PASSWORD admin if no account ever had that email.

        Until this is done the service takes no call (``extensions.lifecycle``), so
        once ``health()`` answers the admin can log in.
        """
        email, password = self.config.get("ADMIN_EMAIL"), self.config.get("ADMIN_PASSWORD")
        if not email or not password:
            return
        with self.db.get_session() as session:
            admin.bootstrap(
                session,
                normalize_email(email),
                lambda: tpool.execute(accounts.hash_password, password),
            )
