import pytest

from orders import rules


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "confirmed"),
        ("pending", "rejected"),
        ("pending", "cancelled"),
        ("confirmed", "cancelled"),
        ("confirmed", "completed"),
    ],
)
def test_the_allowed_moves_return_the_new_status(current, target):
    assert rules.transition(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "completed"),
        ("confirmed", "rejected"),
        ("confirmed", "pending"),
        ("rejected", "confirmed"),
        ("rejected", "cancelled"),
        ("cancelled", "confirmed"),
        ("cancelled", "completed"),
        ("completed", "cancelled"),
        ("completed", "completed"),
    ],
)
def test_every_other_move_is_refused(current, target):
    with pytest.raises(rules.InvalidTransition) as refused:
        rules.transition(current, target)
    assert (refused.value.current, refused.value.target) == (current, target)
    assert not rules.can_transition(current, target)


def test_an_empty_order_cannot_exist():
    with pytest.raises(ValueError, match="at least one line"):
        rules.merge_lines([])


def test_repeated_products_are_merged_into_one_line():
    merged = rules.merge_lines(
        [{"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 4}] * 2
    )
    assert merged == {2: 2, 1: 8}


def test_a_merged_quantity_over_the_limit_is_refused():
    line = {"product_id": 7, "quantity": rules.MAX_QUANTITY}
    with pytest.raises(ValueError, match=r"\[7\]"):
        rules.merge_lines([line, {"product_id": 7, "quantity": 1}])


def test_lines_are_priced_in_product_order_and_totalled_in_cents():
    lines = rules.price_lines({3: 2, 1: 1}, {1: 1999, 3: 5})

    assert lines == [
        {"product_id": 1, "quantity": 1, "unit_price_cents": 1999},
        {"product_id": 3, "quantity": 2, "unit_price_cents": 5},
    ]
    assert rules.total_cents(lines) == 2009
