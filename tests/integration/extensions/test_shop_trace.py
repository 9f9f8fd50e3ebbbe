"""One HTTP order, traced through the gateway and the services, spans kept in memory."""

import itertools
import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from extensions.tracer_provider import memory_exporter
from tests.integration.conftest import traced_in_memory
from tests.polling import eventually

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def db_uris(pg_db_uris):
    return pg_db_uris


@pytest.fixture
def shop_config(shop_config):
    return traced_in_memory(shop_config)


@pytest.fixture
def buyer(http):
    response = http.post(
        "/api/users", json={"email": "buyer@example.com", "name": "B", "password": PASSWORD}
    )
    assert response.status_code == 201, response.json
    response = http.post(
        "/api/auth/token", json={"email": "buyer@example.com", "password": PASSWORD}
    )
    return response.json["access_token"]


@pytest.fixture
def product(shop):
    return shop.inventory.create_product(
        {"sku": "SKU-TRACE", "name": "Widget", "price": "2.50", "stock": 5}
    )


def trace_of(span):
    return [s for s in memory_exporter.get_finished_spans() if s.context.trace_id == span]


def service(span):
    return span.resource.attributes["service.name"]


def only(spans, name, kind):
    matches = [s for s in spans if s.name == name and s.kind == kind]
    assert len(matches) == 1, (name, [(s.name, s.kind, service(s)) for s in spans])
    return matches[0]


def test_one_http_order_makes_one_trace_from_the_gateway_through_orders_and_inventory(
    http, buyer, product
):
    memory_exporter.clear()

    response = http.post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": 2}]},
        headers={"Authorization": f"Bearer {buyer}"},
    )
    assert response.status_code == 201, response.json

    root = only(memory_exporter.get_finished_spans(), "POST /api/orders", SpanKind.SERVER)
    assert root.parent is None
    spans = eventually(
        lambda: (
            spans := trace_of(root.context.trace_id),
            # A worker's span ends in its teardown, after its reply and
            # events may already have gone out: wait for both ends.
            {"publish order_confirmed", "orders/create_order"} <= {s.name for s in spans}
            and sum(s.name == "orders/create_order" for s in spans) == 2
            and spans,
        )[1]
    )
    call = only(spans, "orders/create_order", SpanKind.CLIENT)
    create = only(spans, "orders/create_order", SpanKind.SERVER)
    created = only(spans, "publish order_created", SpanKind.PRODUCER)
    reserve = only(spans, "process order_created", SpanKind.CONSUMER)
    reserved = only(spans, "publish stock_reserved", SpanKind.PRODUCER)
    confirm = only(spans, "process stock_reserved", SpanKind.CONSUMER)
    confirmed = only(spans, "publish order_confirmed", SpanKind.PRODUCER)

    chain = [root, call, create, created, reserve, reserved, confirm, confirmed]
    assert [service(s) for s in chain] == [
        "gateway",
        "gateway",
        "orders",
        "orders",
        "inventory",
        "inventory",
        "orders",
        "orders",
    ]
    for parent, child in itertools.pairwise(chain):
        assert child.parent.span_id == parent.context.span_id, (child.name, parent.name)
    # The gateway's account check hangs below the request; whatever orders asks
    # other services while creating the order hangs below that.
    for client in [s for s in spans if s.kind == SpanKind.CLIENT and s is not call]:
        asker = root if service(client) == "gateway" else create
        assert client.parent.span_id == asker.context.span_id, client.name
        answered = [
            s
            for s in spans
            if s.kind == SpanKind.SERVER
            and s.name == client.name
            and s.parent.span_id == client.context.span_id
        ]
        assert len(answered) == 1, client.name  # one server span below each client span
    assert {service(s) for s in spans} >= {"gateway", "orders", "inventory"}
    assert sum(1 for s in spans if s.parent is None) == 1


def test_an_incoming_traceparent_is_joined_by_the_gateway(http, product):
    memory_exporter.clear()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"

    response = http.get(
        f"/api/products/{product['id']}",
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )

    assert response.status_code == 200
    get = eventually(
        lambda: [s for s in memory_exporter.get_finished_spans() if s.name.endswith("get_product")]
    )[0]
    assert format(get.context.trace_id, "032x") == trace_id


def test_a_failing_call_marks_the_service_span_as_an_error(http, buyer):
    memory_exporter.clear()

    response = http.post(
        "/api/orders",
        json={"items": [{"product_id": 999999, "quantity": 1}]},
        headers={"Authorization": f"Bearer {buyer}"},
    )

    assert response.status_code >= 400
    # The worker's span ends in its teardown, which may come after the reply.
    eventually(
        lambda: any(
            s.name == "orders/create_order" and s.kind == SpanKind.SERVER
            for s in memory_exporter.get_finished_spans()
        )
    )
    create = only(memory_exporter.get_finished_spans(), "orders/create_order", SpanKind.SERVER)
    assert create.status.status_code == StatusCode.ERROR
    assert create.attributes["error.type"]


def test_no_span_attribute_holds_a_password_or_token(http, buyer, product):
    text = json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes),
                "events": [dict(e.attributes) for e in s.events],
            }
            for s in memory_exporter.get_finished_spans()
        ]
    )

    assert "users/login" in text and "users/create_user" in text
    assert PASSWORD not in text
    assert buyer not in text
    assert buyer.split(".")[1] not in text, "not even the token's payload"
