from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from extensions.db import BigId, Timestamp, utcnow
from extensions.envelopes import ProcessedEventMixin
from extensions.outbox import OutboxMessageMixin
from shop.contract import IDEMPOTENCY_KEY_LENGTH


class Base(DeclarativeBase):
    pass


# A product whose price has changed since it was last announced, or never was.
UNANNOUNCED = "(announced_price_cents IS NULL OR announced_price_cents <> price_cents)"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigId)
    # One up at every announced change of price: orders keeps the price of the highest
    # version it has heard of (orders/known_prices.py).
    price_version: Mapped[int] = mapped_column(BigId, default=1, server_default="1")
    # The price last announced (``product_priced``). A price that differs from it was
    # set by something other than this code (an older release, an operator's SQL):
    # the sweep announces it (``InventoryService.announce_new_prices``).
    announced_price_cents: Mapped[int | None] = mapped_column(BigId, nullable=True)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[object] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    # The last line of defence: whatever the code does, the database refuses
    # to store negative stock.
    __table_args__ = (
        CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
        CheckConstraint("reserved >= 0", name="ck_products_reserved_not_negative"),
        Index(
            "ix_products_unannounced_price",
            "id",
            postgresql_where=text(UNANNOUNCED),
            sqlite_where=text(UNANNOUNCED),
        ),
    )


class StockAdjustment(Base):
    """A change of stock made with an idempotency key: the key's first change of the
    product is the only one (``InventoryService.adjust_stock``)."""

    __tablename__ = "stock_adjustments"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(
        String(IDEMPOTENCY_KEY_LENGTH[1]), primary_key=True
    )
    delta: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)


class Reservation(Base):
    """What one order holds. The primary key keeps it to one per order."""

    __tablename__ = "reservations"

    order_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    # reserved | released | fulfilled | failed | cancelled (cancel seen first)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[object] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[object] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    lines: Mapped[list["ReservationLine"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class ReservationLine(Base):
    __tablename__ = "reservation_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("reservations.order_id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class OutboxMessage(OutboxMessageMixin, Base):
    pass
