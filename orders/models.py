from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from extensions.db import BigId, Timestamp, utcnow
from extensions.envelopes import ProcessedEventMixin
from extensions.outbox import OutboxMessageMixin


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    total_cents: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[object] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    items: Mapped[list["OrderItem"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OrderItem.product_id"
    )

    __table_args__ = (
        # Two requests with one key race to this constraint; exactly one wins.
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigId)

    __table_args__ = (CheckConstraint("quantity > 0", name="ck_order_items_quantity_positive"),)


class KnownUser(Base):
    """A user the users service has said exists; ``deleted_at`` once it said otherwise."""

    __tablename__ = "known_users"

    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    deleted_at: Mapped[object] = mapped_column(Timestamp, nullable=True)


class KnownPrice(Base):
    """A product's price as inventory last told orders, and the version it gave."""

    __tablename__ = "known_prices"

    product_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    price_cents: Mapped[int] = mapped_column(BigId)
    price_version: Mapped[int] = mapped_column(BigId)


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class OutboxMessage(OutboxMessageMixin, Base):
    pass
