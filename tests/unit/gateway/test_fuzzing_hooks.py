"""The schemathesis hook of tests/e2e/gateway/test_api_fuzzing.py, on the bodies it is given."""

from shop.contract import MAX_QUANTITY
from tests.e2e.gateway.schemathesis_hooks import _summed_quantities


def test_lines_of_one_product_are_summed():
    lines = [{"product_id": 1, "quantity": MAX_QUANTITY}, {"product_id": 1, "quantity": 1}]

    assert _summed_quantities(lines) == {1: MAX_QUANTITY + 1}


def test_a_line_whose_product_id_is_no_id_is_left_to_the_api_to_refuse():
    # Fuzzing sends any JSON there: a list or an object cannot key a dict.
    lines = [{"product_id": [1], "quantity": 1}, {"product_id": {}, "quantity": 2}]

    assert _summed_quantities(lines) == {}
