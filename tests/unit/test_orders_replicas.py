"""Orders' replicas (orders/known_users.py, orders/known_prices.py), on SQLite."""

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from extensions.db import utcnow
from orders import known_prices, known_users
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


def test_only_the_prices_orders_has_heard_of_are_known(session):
    known_prices.learn(session, 1, 250, price_version=1)
    known_prices.learn(session, 2, 999, price_version=4)

    assert known_prices.prices_of(session, [1, 2, 3]) == {1: 250, 2: 999}


def test_a_newer_price_replaces_an_older_one_whatever_order_the_news_came_in(session):
    known_prices.learn(session, 1, 200, price_version=2)
    known_prices.learn(session, 1, 300, price_version=3)
    known_prices.learn(session, 2, 300, price_version=3)
    known_prices.learn(session, 2, 200, price_version=2)  # late: the last word, and ignored

    assert known_prices.prices_of(session, [1, 2]) == {1: 300, 2: 300}


def test_news_of_a_version_orders_already_has_changes_nothing(session):
    known_prices.learn(session, 1, 300, price_version=3)
    known_prices.learn(session, 1, 999, price_version=3)

    assert known_prices.prices_of(session, [1]) == {1: 300}
