from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from extensions.db import BigId, Timestamp, utcnow
from extensions.envelopes import ProcessedEventMixin
from extensions.outbox import OutboxMessageMixin
from shop.contract import IDEMPOTENCY_KEY_LENGTH


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Stored normalised (lower case), so a plain unique index makes it case-insensitive.
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="customer")
    status: Mapped[str] = mapped_column(String(20), default="active")
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[object] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[object] = mapped_column(Timestamp, nullable=True)
    # The idempotency key of the sign-up that made the account: the same request,
    # run again (retried, or redelivered after its process died before its
    # acknowledgement), finds its account here instead of a taken email.
    signup_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH[1]))

    __table_args__ = (
        # Only live accounts hold an email: a deleted user's address may sign up again.
        Index(
            "uq_users_live_email",
            "email",
            unique=True,
            postgresql_where=deleted_at.is_(None),
            sqlite_where=deleted_at.is_(None),
        ),
    )


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class OutboxMessage(OutboxMessageMixin, Base):
    pass
