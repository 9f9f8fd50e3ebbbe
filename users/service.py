"""The users service: accounts, log-in and loyalty points."""

from eventlet import tpool
from nameko.dependency_providers import Config
from sqlalchemy import func, select, update

from extensions.db import Database, flush_or_raise, utcnow
from extensions.events import claim_event, open_envelope, reliable_event_handler
from extensions.jsonlog import LogContext
from extensions.lifecycle import on_start
from extensions.metrics import Metrics
from extensions.outbox import Outbox
from extensions.registration import ConsulRegistration
from extensions.rpc import rpc
from extensions.token_settings import TokenSettings
from extensions.tracing import Tracing
from shop.validation import load, page_args, positive_id
from users import accounts, admin
from users.exceptions import Conflict, NotFound, Unauthorized
from users.models import Base, OutboxMessage, ProcessedEvent, User
from users.schemas import CreateUserSchema, LoginSchema, UpdateUserSchema, UserSchema

user_schema = UserSchema()


def _email_taken():
    return Conflict("Email is already registered", {"email": ["Already registered."]})


class UsersService:
    name = "users"

    db = Database(Base)
    outbox = Outbox(Base, OutboxMessage)
    config = Config()
    # TOKEN, checked at start: the service refuses to sign tokens with a known secret.
    token = TokenSettings()

    # Cross-cutting extensions: spans, Prometheus metrics, Consul, log fields.
    tracer = Tracing()
    metrics = Metrics()
    registration = ConsulRegistration()
    log_context = LogContext()

    @rpc
    def create_user(self, data):
        fields = load(CreateUserSchema(), data)
        # Hashing is CPU-bound C code that releases the GIL: a real thread keeps
        # the eventlet hub (and the other workers) running meanwhile.
        password_hash = tpool.execute(accounts.hash_password, fields["password"])
        user = User(
            email=accounts.normalize_email(fields["email"]),
            name=fields["name"],
            password_hash=password_hash,
        )
        with self.db.get_session() as session:
            session.add(user)
            flush_or_raise(session, _email_taken)
            return user_schema.dump(user)

    @rpc
    def get_user(self, user_id):
        with self.db.read() as session:
            return user_schema.dump(self._live_user(session, user_id))

    @rpc
    def list_users(self, page=1, per_page=20):
        page, per_page = page_args(page, per_page)
        live = select(User).where(User.deleted_at.is_(None))
        with self.db.get_session() as session:
            total = session.scalar(select(func.count()).select_from(live.subquery()))
            users = session.scalars(
                live.order_by(User.id).offset((page - 1) * per_page).limit(per_page)
            ).all()
            return {
                "items": user_schema.dump(users, many=True),
                "page": page,
                "per_page": per_page,
                "total": total,
            }

    @rpc
    def update_user(self, user_id, data):
        changes = load(UpdateUserSchema(), data)
        if "email" in changes:
            changes["email"] = accounts.normalize_email(changes["email"])
        if "password" in changes:
            changes["password_hash"] = tpool.execute(
                accounts.hash_password, changes.pop("password")
            )
        with self.db.get_session() as session:
            user = self._live_user(session, user_id)
            for field, value in changes.items():
                setattr(user, field, value)
            flush_or_raise(session, _email_taken)
            return user_schema.dump(user)

    @rpc
    def delete_user(self, user_id):
        with self.db.get_session() as session:
            user = self._live_user(session, user_id)
            user.deleted_at = utcnow()
            # Orders keeps a replica of the users it knows (orders/known_users.py).
            self.outbox.add(session, "user_deleted", {"user_id": user.id})
            return {"id": user.id, "deleted": True}

    @rpc
    def login(self, email, password):
        credentials = load(LoginSchema(), {"email": email, "password": password})
        with self.db.get_session() as session:
            user = session.scalar(
                select(User).where(
                    User.email == accounts.normalize_email(credentials["email"]),
                    User.deleted_at.is_(None),
                )
            )
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

    @rpc
    def health(self):
        with self.db.get_session() as session:
            session.execute(select(1))
        return {"service": self.name, "status": "ok"}

    @reliable_event_handler("orders", "order_completed")
    def add_points_for_completed_order(self, payload):
        event_id, data = open_envelope(payload)
        with self.db.get_session() as session:
            if not claim_event(session, ProcessedEvent, event_id, "add_points"):
                return
            # One atomic UPDATE: two completions for one user at once both count.
            added = session.execute(
                update(User)
                .where(User.id == data["user_id"])
                .values(points=User.points + accounts.points_for_total(data["total"]))
            )
            if added.rowcount == 0:
                raise NotFound("No such user", {"user_id": data["user_id"]})

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
                accounts.normalize_email(email),
                lambda: tpool.execute(accounts.hash_password, password),
            )

    def _live_user(self, session, user_id):
        user = session.get(User, positive_id(user_id, "user_id"))
        if user is None or user.deleted_at is not None:
            raise NotFound("No such user", {"user_id": user_id})
        return user
