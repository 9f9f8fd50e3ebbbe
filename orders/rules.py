"""Order rules, free of Nameko and the database.

The statuses, the moves between them and the limits are the contract's
(shop/contract.py); the rules that apply them are here.
"""

from shop.contract import MAX_QUANTITY, ORDER_TRANSITIONS


class InvalidTransition(Exception):
    def __init__(self, current, target):
        super().__init__(f"An order that is {current} cannot become {target}.")
        self.current = current
        self.target = target


def can_transition(current, target):
    return target in ORDER_TRANSITIONS.get(current, ())


def sources(target):
    """The statuses from which an order may become ``target``."""
    return sorted(current for current, targets in ORDER_TRANSITIONS.items() if target in targets)


def transition(current, target):
    """The new status, or ``InvalidTransition`` when the rules forbid the move."""
    if not can_transition(current, target):
        raise InvalidTransition(current, target)
    return target


def merge_lines(items):
    """Order lines by product, quantities of repeated products added up.

    Raises ``ValueError`` for an empty order or a merged quantity over the limit.
    """
    if not items:
        raise ValueError("An order needs at least one line.")
    merged = {}
    for item in items:
        merged[item["product_id"]] = merged.get(item["product_id"], 0) + item["quantity"]
    too_many = [product_id for product_id, quantity in merged.items() if quantity > MAX_QUANTITY]
    if too_many:
        raise ValueError(f"At most {MAX_QUANTITY} of a product per order: {sorted(too_many)}.")
    return merged


def price_lines(quantities, unit_prices):
    """``{product_id: qty}`` and ``{product_id: cents}`` -> lines with the price fixed now."""
    return [
        {
            "product_id": product_id,
            "quantity": quantity,
            "unit_price_cents": unit_prices[product_id],
        }
        for product_id, quantity in sorted(quantities.items())
    ]


def total_cents(lines):
    return sum(line["quantity"] * line["unit_price_cents"] for line in lines)
