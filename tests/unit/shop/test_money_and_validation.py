import pytest

from shop import validation
from shop.errors import ValidationError
from shop.money import format_cents, parse_amount


@pytest.mark.parametrize(
    ("amount", "cents"), [("19.99", 1999), (19.99, 1999), (5, 500), ("0.10", 10), (" 3.5 ", 350)]
)
def test_amounts_become_exact_cents(amount, cents):
    assert parse_amount(amount) == cents


@pytest.mark.parametrize(
    "amount",
    [
        "1.999",
        "-0.01",
        "NaN",
        "Infinity",
        "abc",
        "",
        None,
        True,
        [1],
        "2000000000",
        -3.6119666385005266e29,  # found by schemathesis: quantize overflowed
        "1e40",
    ],
)
def test_amounts_that_are_not_exact_money_are_refused(amount):
    with pytest.raises(ValueError):
        parse_amount(amount)


@pytest.mark.parametrize(("cents", "text"), [(1999, "19.99"), (0, "0.00"), (5, "0.05")])
def test_cents_are_shown_with_two_places(cents, text):
    assert format_cents(cents) == text


@pytest.mark.parametrize("value", [0, -1, "1", 1.0, True, None, 2**63])
def test_an_id_must_be_a_positive_integer(value):
    with pytest.raises(ValidationError) as refused:
        validation.positive_id(value, "order_id")
    assert refused.value.details == {"order_id": ["Must be a positive integer."]}


def test_paging_arguments_are_bounded():
    assert validation.page_args(3, 100) == (3, 100)
    with pytest.raises(ValidationError) as refused:
        validation.page_args(0, 101)
    assert set(refused.value.details) == {"page", "per_page"}
