"""The inventory service's RPC methods over real RabbitMQ, on PostgreSQL and SQLite."""

import pytest

from shop.errors import Conflict, NotFound

LAMP = {"sku": "LAMP-1", "name": "Desk lamp", "price": "24.90", "stock": 7}


def test_a_product_keeps_its_exact_price_and_starts_with_nothing_reserved(shop):
    product = shop.inventory.create_product(LAMP)

    assert (product["price"], product["stock"], product["reserved"]) == ("24.90", 7, 0)
    assert shop.inventory.get_product(product["id"]) == product


def test_a_sku_is_unique(shop):
    shop.inventory.create_product(LAMP)

    with pytest.raises(Conflict):
        shop.inventory.create_product({**LAMP, "name": "Other lamp"})


def test_get_products_returns_them_in_the_order_asked(shop):
    a = shop.inventory.create_product(LAMP)
    b = shop.inventory.create_product({**LAMP, "sku": "LAMP-2"})

    assert [p["id"] for p in shop.inventory.get_products([b["id"], a["id"]])] == [b["id"], a["id"]]


def test_get_products_names_the_ids_that_do_not_exist(shop):
    a = shop.inventory.create_product(LAMP)

    with pytest.raises(NotFound) as missing:
        shop.inventory.get_products([a["id"], 4040, 4041])

    assert missing.value.details == {"product_ids": ["4040", "4041"]}


def test_update_changes_name_and_price_but_not_stock(shop):
    product = shop.inventory.create_product(LAMP)

    updated = shop.inventory.update_product(product["id"], {"name": "Lamp", "price": 30})

    assert (updated["name"], updated["price"], updated["stock"]) == ("Lamp", "30.00", 7)


def test_stock_moves_by_the_delta_and_never_below_zero(shop):
    product = shop.inventory.create_product(LAMP)

    assert shop.inventory.adjust_stock(product["id"], 3)["stock"] == 10
    assert shop.inventory.adjust_stock(product["id"], -10)["stock"] == 0
    with pytest.raises(Conflict):
        shop.inventory.adjust_stock(product["id"], -1)
    assert shop.inventory.get_product(product["id"])["stock"] == 0


def test_concurrent_stock_removals_never_take_stock_below_zero(shop):
    product = shop.inventory.create_product({**LAMP, "stock": 5})

    replies = [shop.inventory.adjust_stock.call_async(product["id"], -1) for _ in range(12)]
    succeeded = 0
    for reply in replies:
        try:
            reply.result()
            succeeded += 1
        except Conflict:
            pass

    assert succeeded == 5
    assert shop.inventory.get_product(product["id"])["stock"] == 0


def test_a_stock_change_sent_twice_with_its_key_is_made_once(shop):
    # As a request the broker delivers again after its first run committed, or a
    # client's retry after a timeout: the same arguments, the same key.
    product = shop.inventory.create_product(LAMP)

    first = shop.inventory.adjust_stock(product["id"], 3, idempotency_key="restock-1")
    again = shop.inventory.adjust_stock(product["id"], 3, idempotency_key="restock-1")

    assert first["stock"] == again["stock"] == 10
    assert shop.inventory.get_product(product["id"])["stock"] == 10


def test_a_key_names_one_change_of_one_product(shop):
    lamp = shop.inventory.create_product(LAMP)
    desk = shop.inventory.create_product({**LAMP, "sku": "DESK-1"})

    shop.inventory.adjust_stock(lamp["id"], 3, idempotency_key="restock-1")
    shop.inventory.adjust_stock(lamp["id"], 3, idempotency_key="restock-2")
    shop.inventory.adjust_stock(desk["id"], 3, idempotency_key="restock-1")

    assert shop.inventory.get_product(lamp["id"])["stock"] == 13
    assert shop.inventory.get_product(desk["id"])["stock"] == 10


def test_a_key_sent_again_with_another_delta_is_a_conflict_and_changes_nothing(shop):
    product = shop.inventory.create_product(LAMP)
    shop.inventory.adjust_stock(product["id"], 3, idempotency_key="restock")

    with pytest.raises(Conflict) as refused:
        shop.inventory.adjust_stock(product["id"], 30, idempotency_key="restock")

    assert refused.value.details == {"idempotency_key": ["Already used to change the stock by 3."]}
    assert shop.inventory.get_product(product["id"])["stock"] == 10


def test_a_refused_change_keeps_nothing_of_its_key(shop):
    product = shop.inventory.create_product(LAMP)

    with pytest.raises(Conflict):
        shop.inventory.adjust_stock(product["id"], -8, idempotency_key="clear-out")
    shop.inventory.adjust_stock(product["id"], 1, idempotency_key="top-up")

    assert (
        shop.inventory.adjust_stock(product["id"], -8, idempotency_key="clear-out")["stock"] == 0
    )


def test_twins_sent_at_once_change_the_stock_once(shop):
    product = shop.inventory.create_product(LAMP)

    replies = [
        shop.inventory.adjust_stock.call_async(product["id"], 2, idempotency_key="twins")
        for _ in range(6)
    ]

    assert {reply.result()["stock"] for reply in replies} == {9}
    assert shop.inventory.get_product(product["id"])["stock"] == 9


def test_products_are_listed_a_page_at_a_time_with_the_total(shop):
    for n in range(3):
        shop.inventory.create_product({**LAMP, "sku": f"LAMP-{n}"})

    page = shop.inventory.list_products(page=1, per_page=2)

    assert (page["total"], len(page["items"])) == (3, 2)


def test_health_reports_the_service_ok(shop):
    assert shop.inventory.health() == {"service": "inventory", "status": "ok"}
