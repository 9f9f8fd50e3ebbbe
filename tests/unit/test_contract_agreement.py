"""The gateway and the services refuse the same input, by the contract's numbers.

Each limit is compared three ways: the gateway's schema against the service's,
field by field, and both against shop/contract.py. A limit written by hand on
one side (the gateway's 100 order lines against orders' 50) fails here.
"""

import pytest
from marshmallow import fields, validate

from extensions.events import reliable_handlers
from gateway import schemas as gateway
from inventory import models as inventory_models
from inventory import schemas as inventory
from orders import models as orders_models
from orders import schemas as orders
from shop import contract, errors
from shop.money import parse_amount
from users import models as users_models
from users import schemas as users

# Gateway request schema -> the service schema that loads the same body.
PAIRS = [
    (gateway.SignUpSchema, users.CreateUserSchema),
    (gateway.UserPatchSchema, users.UpdateUserSchema),
    (gateway.CredentialsSchema, users.LoginSchema),
    (gateway.ProductCreateSchema, inventory.CreateProductSchema),
    (gateway.ProductPatchSchema, inventory.UpdateProductSchema),
    (gateway.StockChangeSchema, inventory.AdjustStockSchema),
    (gateway.OrderCreateSchema, orders.CreateOrderSchema),
    (gateway.OrderLineRequest, orders.OrderLineSchema),
]
# Checked another way: users' email length is counted after normalising (below), and
# a price is a pattern at the gateway and a Money field in inventory (below).
NOT_COMPARABLE = {"email", "price"}

# (schema, field) -> its bounds, as the contract states them.
EXPECTED = {
    (gateway.SignUpSchema, "name"): {"length": contract.USER_NAME_LENGTH},
    (gateway.SignUpSchema, "password"): {"length": contract.PASSWORD_LENGTH},
    (gateway.UserPatchSchema, "role"): {"choices": contract.ROLES},
    (gateway.UserPatchSchema, "status"): {"choices": contract.USER_STATUSES},
    (gateway.CredentialsSchema, "email"): {"length": contract.EMAIL_LENGTH},
    (gateway.CredentialsSchema, "password"): {"length": contract.LOGIN_PASSWORD_LENGTH},
    (gateway.ProductCreateSchema, "sku"): {"length": contract.SKU_LENGTH},
    (gateway.ProductCreateSchema, "name"): {"length": contract.PRODUCT_NAME_LENGTH},
    (gateway.ProductCreateSchema, "stock"): {"range": (0, contract.MAX_STOCK)},
    (gateway.StockChangeSchema, "delta"): {
        "range": (-contract.MAX_STOCK_DELTA, contract.MAX_STOCK_DELTA),
        "excluded": (0,),
    },
    (gateway.OrderCreateSchema, "items"): {"length": (1, contract.MAX_ORDER_LINES)},
    (gateway.OrderLineRequest, "product_id"): {"range": (1, contract.MAX_ID)},
    (gateway.OrderLineRequest, "quantity"): {"range": (1, contract.MAX_QUANTITY)},
    (gateway.PageQuerySchema, "page"): {"range": (1, contract.MAX_PAGE)},
    (gateway.PageQuerySchema, "per_page"): {"range": (1, contract.MAX_PER_PAGE)},
    (gateway.OrdersQuerySchema, "user_id"): {"range": (1, contract.MAX_ID)},
    (orders.CreateOrderSchema, "user_id"): {"range": (1, contract.MAX_ID)},
    (orders.CreateOrderSchema, "idempotency_key"): {"length": contract.IDEMPOTENCY_KEY_LENGTH},
    (inventory.AdjustStockSchema, "idempotency_key"): {"length": contract.IDEMPOTENCY_KEY_LENGTH},
    (users.SignUpKeySchema, "idempotency_key"): {"length": contract.IDEMPOTENCY_KEY_LENGTH},
    (inventory.ProductIdsSchema, "ids"): {
        "length": (1, contract.MAX_PRODUCTS_PER_CALL),
        "each": {"range": (1, contract.MAX_ID)},
    },
}


def bounds(field):
    """What a field's validators allow: ``{"length": (min, max), "range": ..., ...}``."""
    found = {}
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            found["length"] = (validator.min, validator.max)
        elif isinstance(validator, validate.Range):
            found["range"] = (validator.min, validator.max)
        elif isinstance(validator, validate.OneOf):
            found["choices"] = tuple(validator.choices)
        elif isinstance(validator, validate.NoneOf):
            found["excluded"] = tuple(validator.iterable)
    if isinstance(field, fields.List) and (inner := bounds(field.inner)):
        found["each"] = inner
    return found


def _shared_fields(gateway_schema, service_schema):
    shared = gateway_schema().fields.keys() & service_schema().fields.keys()
    return sorted(shared - NOT_COMPARABLE)


@pytest.mark.parametrize(
    ("gateway_schema", "service_schema", "name"),
    [(g, s, name) for g, s in PAIRS for name in _shared_fields(g, s)],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_the_gateway_and_the_service_bound_each_field_alike(gateway_schema, service_schema, name):
    assert bounds(gateway_schema().fields[name]) == bounds(service_schema().fields[name])


@pytest.mark.parametrize(
    ("schema", "name"), list(EXPECTED), ids=[f"{s.__name__}.{n}" for s, n in EXPECTED]
)
def test_every_bound_is_the_contracts(schema, name):
    assert bounds(schema().fields[name]) == EXPECTED[schema, name]


def test_an_order_has_as_many_lines_at_the_gateway_as_in_orders():
    items = {"items": [{"product_id": 1, "quantity": 1}] * (contract.MAX_ORDER_LINES + 1)}

    assert "items" in gateway.OrderCreateSchema().validate(items)
    assert "items" in orders.CreateOrderSchema().validate(items | {"user_id": 1})
    del items["items"][-1]
    assert gateway.OrderCreateSchema().validate(items) == {}
    assert orders.CreateOrderSchema().validate(items | {"user_id": 1}) == {}


@pytest.mark.parametrize(
    "price", ["0", "0.5", "19.99", "999999999.99", "1000000000", "1000000000.00"]
)
def test_a_price_the_gateway_takes_is_one_inventory_takes(price):
    assert gateway.ProductPatchSchema().validate({"price": price}) == {}
    assert parse_amount(price) <= contract.MAX_CENTS


@pytest.mark.parametrize("price", ["1000000000.01", "1000000001", "9999999999.99", "1.001"])
def test_a_price_over_the_maximum_or_finer_than_a_cent_is_refused_by_both(price):
    assert "price" in gateway.ProductPatchSchema().validate({"price": price})
    with pytest.raises(ValueError):
        parse_amount(price)


def test_an_email_fits_the_contract_counted_in_lower_case():
    longest = "a" * (contract.EMAIL_LENGTH[1] - len("@example.com")) + "@example.com"

    assert users.UpdateUserSchema().validate({"email": longest}) == {}
    assert gateway.UserPatchSchema().validate({"email": longest}) == {}
    assert "email" in users.UpdateUserSchema().validate({"email": "a" + longest})
    assert "email" in gateway.UserPatchSchema().validate({"email": "a" + longest})


@pytest.mark.parametrize(
    ("column", "length"),
    [
        (users_models.User.__table__.c.email, contract.EMAIL_LENGTH),
        (users_models.User.__table__.c.name, contract.USER_NAME_LENGTH),
        (inventory_models.Product.__table__.c.sku, contract.SKU_LENGTH),
        (inventory_models.Product.__table__.c.name, contract.PRODUCT_NAME_LENGTH),
        (orders_models.Order.__table__.c.idempotency_key, contract.IDEMPOTENCY_KEY_LENGTH),
        (
            inventory_models.StockAdjustment.__table__.c.idempotency_key,
            contract.IDEMPOTENCY_KEY_LENGTH,
        ),
    ],
    ids=lambda value: getattr(value, "name", value),
)
def test_every_text_limit_fits_its_column(column, length):
    assert column.type.length == length[1]


def test_every_error_a_service_raises_has_an_http_status_and_a_code():
    raised = {cls.__name__ for cls in errors.ShopError.__subclasses__()}

    assert raised == set(contract.REMOTE_ERROR_STATUS)
    for status in contract.REMOTE_ERROR_STATUS.values():
        assert status in contract.ERROR_CODES


def test_every_order_status_is_reached_by_the_transitions_from_pending():
    reached = {"pending"} | set().union(*contract.ORDER_TRANSITIONS.values())

    assert reached == set(contract.ORDER_STATUSES)


def test_every_handler_listens_for_an_event_its_source_publishes():
    handlers = reliable_handlers()

    assert {service for service, _, _ in handlers} <= set(contract.SERVICES)
    for service, method, handler in handlers:
        published = contract.EVENTS[handler.source_service]
        assert handler.event_type in published, f"{service}.{method}"
