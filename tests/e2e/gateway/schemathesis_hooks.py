"""Loaded by schemathesis (``SCHEMATHESIS_HOOKS``) in test_api_fuzzing.py.

The one rule of the API that JSON Schema cannot state: an order's lines for one
product add up to at most ``MAX_QUANTITY`` (orders.rules.merge_lines). A body
that breaks it matches the document and is still refused, so it is left out
rather than reported as "schema-valid request rejected".
"""

import schemathesis

from shop.contract import MAX_QUANTITY


def _summed_quantities(items):
    quantities = {}
    for line in items:
        if isinstance(line, dict) and isinstance(line.get("quantity"), int):
            product_id = line.get("product_id")
            quantities[product_id] = quantities.get(product_id, 0) + line["quantity"]
    return quantities


@schemathesis.hook
def filter_body(ctx, body):
    operation = ctx.operation
    if operation is None or (operation.method.upper(), operation.path) != ("POST", "/api/orders"):
        return True
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return True
    return all(total <= MAX_QUANTITY for total in _summed_quantities(body["items"]).values())
