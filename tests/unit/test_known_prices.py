"""Orders' replica of inventory's prices (orders/known_prices.py), on SQLite."""

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from orders import known_prices
from orders.models import Base


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


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
