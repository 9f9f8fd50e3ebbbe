"""The scaffolding the services share: their base class, ``paginate`` and ``once_per_event``."""

import inspect

import pytest
from marshmallow import Schema, fields
from nameko.cli.run import import_service
from nameko.testing.services import worker_factory
from nameko_sqlalchemy.database import Session
from sqlalchemy import Integer, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from extensions import scaffolding
from extensions.db import Database, DatabaseWrapper, paginate
from extensions.envelopes import ProcessedEventMixin, claim_again, envelope, once_per_event
from extensions.events import SERVICE_CLASSES
from shop.errors import ValidationError


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class ItemSchema(Schema):
    id = fields.Integer()


@pytest.fixture
def db():
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, class_=Session)
    return DatabaseWrapper(sessions, sessions, engine)


@pytest.mark.parametrize("path", SERVICE_CLASSES)
def test_nameko_run_finds_exactly_the_service_class_in_each_service_module(path):
    module, _, cls_name = path.partition(":")
    (found,) = import_service(module)
    assert found.__name__ == cls_name
    assert issubclass(found, scaffolding.ShopService)


def test_the_base_class_is_no_service_of_its_own():
    assert not hasattr(scaffolding.ShopService, "name")


def test_every_service_answers_health_from_the_base_class(db):
    class Service(scaffolding.ShopService):
        name = "things"
        db = Database(Base)

    assert worker_factory(Service, db=db).health() == {"service": "things", "status": "ok"}


def test_paginate_returns_one_page_in_order_and_the_total(db):
    with db.get_session() as session:
        session.add_all(Item(id=i) for i in range(1, 8))
    with db.get_session() as session:
        page = paginate(session, select(Item), Item.id.desc(), 2, 3, ItemSchema())
    assert page == {
        "items": [{"id": 4}, {"id": 3}, {"id": 2}],
        "page": 2,
        "per_page": 3,
        "total": 7,
    }


def test_paginate_counts_only_the_rows_of_the_query(db):
    with db.get_session() as session:
        session.add_all(Item(id=i) for i in range(1, 8))
    with db.get_session() as session:
        page = paginate(session, select(Item).where(Item.id > 5), Item.id, 1, 20, ItemSchema())
    assert page["items"] == [{"id": 6}, {"id": 7}]
    assert page["total"] == 2


class Handlers:
    def __init__(self, db):
        self.db = db
        self.seen = []

    @once_per_event(ProcessedEvent, "store")
    def store(self, session, data):
        """Store the item."""
        self.seen.append(data)
        session.add(Item(id=data["id"]))

    @once_per_event(ProcessedEvent, "retry")
    def store_on_second_claim(self, session, data):
        session.rollback()
        if claim_again(session):
            session.add(Item(id=data["id"]))


def stored(db):
    with db.get_session() as session:
        return session.scalars(select(Item.id)).all()


def test_once_per_event_runs_the_effect_once_for_a_redelivered_event(db):
    handlers, event = Handlers(db), envelope({"id": 1})
    handlers.store(event)
    handlers.store(event)
    handlers.store(envelope({"id": 2}))
    assert handlers.seen == [{"id": 1}, {"id": 2}]
    assert stored(db) == [1, 2]


def test_once_per_event_rolls_the_claim_back_with_a_failed_effect(db):
    handlers, event = Handlers(db), envelope({"id": 1})
    with db.get_session() as session:
        session.add(Item(id=1))
    with pytest.raises(IntegrityError):
        handlers.store(event)  # the primary key is taken
    with db.get_session() as session:
        session.execute(Item.__table__.delete())
    handlers.store(event)
    assert stored(db) == [1]


def test_once_per_event_refuses_a_malformed_envelope(db):
    with pytest.raises(ValidationError):
        Handlers(db).store({"data": {"id": 1}})
    assert stored(db) == []


def test_claim_again_claims_the_event_after_a_rollback(db):
    handlers, event = Handlers(db), envelope({"id": 3})
    handlers.store_on_second_claim(event)
    handlers.store_on_second_claim(event)
    assert stored(db) == [3]
    with db.get_session() as session:
        assert session.scalars(select(ProcessedEvent.handler)).all() == ["retry"]


def test_a_once_per_event_handler_takes_the_payload_as_nameko_and_traces_see_it():
    assert list(inspect.signature(Handlers.store).parameters) == ["self", "payload"]
    assert Handlers.store.__name__ == "store"
    assert Handlers.store.__doc__ == "Store the item."
