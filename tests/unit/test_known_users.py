"""Orders' replica of the users it knows (orders/known_users.py), on SQLite."""

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from extensions.db import utcnow
from orders import known_users
from orders.models import Base
from shop.errors import NotFound


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_a_user_is_unknown_until_remembered(session):
    assert known_users.is_known(session, 7) is False
    known_users.remember(session, 7)
    known_users.remember(session, 7)

    assert known_users.is_known(session, 7) is True


def test_a_deleted_user_is_not_found_whichever_news_came_first(session):
    known_users.remember(session, 7)
    known_users.forget(session, 7, utcnow())
    known_users.forget(session, 8, utcnow())  # deleted before orders ever saw it...
    known_users.remember(session, 8)  # ...and an older answer of users lands late

    for user_id in (7, 8):
        with pytest.raises(NotFound):
            known_users.is_known(session, user_id)
