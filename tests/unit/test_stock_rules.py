from inventory import stock


def test_requested_quantities_add_up_repeated_products():
    items = [{"product_id": 1, "quantity": 2}, {"product_id": 1, "quantity": 3}]
    assert stock.requested_quantities(items) == {1: 5}


def test_no_shortage_when_every_line_is_covered():
    assert stock.shortages({1: 2, 2: 5}, {1: 2, 2: 9}) == []


def test_each_short_line_is_named_with_what_is_available():
    assert stock.shortages({1: 3, 2: 1, 3: 1}, {1: 2, 2: 1}) == [
        {"product_id": 1, "requested": 3, "available": 2},
        {"product_id": 3, "requested": 1, "available": 0},
    ]


def test_stock_may_reach_zero_but_not_below():
    assert stock.can_adjust(5, -5)
    assert not stock.can_adjust(5, -6)
