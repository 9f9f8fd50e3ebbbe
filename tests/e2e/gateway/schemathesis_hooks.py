"""Loaded by schemathesis (``SCHEMATHESIS_HOOKS``) in test_api_fuzzing.py.

The one rule of the API that JSON Schema cannot state: an order's lines for one
product add up to at most ``MAX_QUANTITY`` (orders.rules.merge_lines). A body
that breaks it matches the document and is still refused, so it is left out
rather than reported as "schema-valid request rejected".
"""

import schemathesis

from shop.contract import MAX_QUANTITY


def _summed_quantities(items):
    """Quantity per product id over the lines that name one; any other line makes the
    body invalid by the document already, and is the API's to refuse."""
    quantities = {}
    for line in items:
        if not isinstance(line, dict):
            continue
        product_id, quantity = line.get("product_id"), line.get("quantity")
        if isinstance(product_id, int) and isinstance(quantity, int):
            quantities[product_id] = quantities.get(product_id, 0) + quantity
    return quantities


@schemathesis.hook
def filter_body(ctx, body):
    operation = ctx.operation
    if operation is None or (operation.method.upper(), operation.path) != ("POST", "/api/orders"):
        return True
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return True
    return all(total <= MAX_QUANTITY for total in _summed_quantities(body["items"]).values())
