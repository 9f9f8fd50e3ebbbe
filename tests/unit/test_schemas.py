import marshmallow
import pytest

from inventory.schemas import CreateProductSchema, ProductSchema
from orders.schemas import CreateOrderSchema
from users.schemas import CreateUserSchema, UserSchema


def test_a_user_is_dumped_without_its_password_hash():
    class Row:
        id, email, name, role, status, points = 1, "a@b.c", "A", "customer", "active", 0
        created_at = updated_at = None
        password_hash = "$argon2id$secret"

    assert "password_hash" not in UserSchema().dump(Row())


def test_a_sign_up_refuses_unknown_fields_such_as_a_role():
    with pytest.raises(marshmallow.ValidationError) as refused:
        CreateUserSchema().load(
            {"email": "a@b.co", "name": "A", "password": "password-1", "role": "admin"}
        )
    assert refused.value.messages == {"role": ["Unknown field."]}


def test_a_product_price_loads_into_cents_and_dumps_as_a_string():
    loaded = CreateProductSchema().load({"sku": "A-1", "name": "A", "price": "2.50"})

    assert loaded == {"sku": "A-1", "name": "A", "price_cents": 250, "stock": 0}
    assert ProductSchema().dump(loaded | {"id": 1})["price"] == "2.50"


def test_an_order_needs_positive_integer_quantities():
    with pytest.raises(marshmallow.ValidationError) as refused:
        CreateOrderSchema().load({"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]})
    assert refused.value.messages == {
        "items": {
            0: {"quantity": ["Must be greater than or equal to 1 and less than or equal to 1000."]}
        }
    }
