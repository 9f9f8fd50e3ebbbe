"""Stock rules of the inventory service, free of Nameko and the database."""


def requested_quantities(items):
    """``[{product_id, quantity}, ...]`` -> ``{product_id: total quantity}``."""
    wanted = {}
    for item in items:
        wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
    return wanted


def shortages(wanted, available):
    """The lines that cannot be reserved in full; empty means reserve everything.

    ``available`` maps product id to stock on hand; a product missing from it
    (unknown or deleted) has none.
    """
    return [
        {
            "product_id": product_id,
            "requested": quantity,
            "available": available.get(product_id, 0),
        }
        for product_id, quantity in sorted(wanted.items())
        if available.get(product_id, 0) < quantity
    ]


def can_adjust(stock, delta):
    return stock + delta >= 0
