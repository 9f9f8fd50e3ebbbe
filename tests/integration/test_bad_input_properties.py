"""Whatever the arguments, every RPC method answers with a result or a business error.

hypothesis draws arguments for every RPC method of the three services, from
near-valid data to any JSON, with the text databases choke on (NUL, lone
surrogates, letters whose lower case is longer) turning up often. They go
through real RPC to the services on PostgreSQL. The only errors allowed are
``ValidationError``, ``NotFound`` and ``Conflict`` (and ``Unauthorized`` from
``login``); anything else would be a 500 at the gateway and count toward its
circuit breaker. A rejected call must leave the row count of every table as it was.
"""

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from nameko.events import EventHandler
from nameko.runners import ServiceRunner
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import restrict_entrypoints
from nameko.testing.utils import get_container

from inventory.service import InventoryService
from orders.service import OrdersService
from shop.errors import Conflict, NotFound, Unauthorized, ValidationError
from tests.tables import row_counter
from users.service import UsersService

BUSINESS_ERRORS = (ValidationError, NotFound, Conflict)
EXAMPLES = {"users": 250, "inventory": 300, "orders": 300}

# --- what the arguments are made of -----------------------------------------------

# NUL, lone surrogates, letters whose lower case is longer, white space.
NASTY = "\x00\ud800\udbff\udc00\udfff\u0130\ufb03 \n"
CHARACTERS = st.characters(codec=None, exclude_categories=())  # surrogates too


def text(min_size=0, max_size=20):
    """Text of a size the field takes, half the time with a character from NASTY in it
    (hypothesis alone draws those too rarely to find what they break)."""
    plain = st.text(CHARACTERS, min_size=min_size, max_size=max_size)
    shorter = st.text(CHARACTERS, min_size=max(min_size - 1, 0), max_size=max_size - 1)
    spliced = st.builds(
        lambda s, c, i: s[:i] + c + s[i:], shorter, st.sampled_from(NASTY), st.integers(0, 20)
    )
    return plain | spliced


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | text()
ANY = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text(), inner, max_size=3),
    max_leaves=8,
)


def mostly(shaped, otherwise=ANY):
    """``shaped`` (values of the right type and size, the content anything) nine times in
    ten, ``otherwise`` the tenth: junk alone would rarely get past the first check."""
    return st.integers(0, 9).flatmap(lambda n: otherwise if n == 0 else shaped)


# Beyond any id or count a column holds, or right at the edge.
BIG = st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]) | ANY
IDS = mostly(st.integers(1, 3), BIG)  # the rows seeded below, so that calls find them
COUNTS = mostly(st.integers(-3, 1001), BIG)
QUANTITIES = mostly(st.integers(1, 1000), BIG)
STOCK = mostly(st.integers(0, 10**9), BIG)
EMAILS = mostly(
    st.emails()
    | st.builds("{}@{}".format, text(1, 64), st.sampled_from(["example.com", "\u0130.com"]))
    | st.integers(1, 242).map(lambda n: "\u0130" * n + "@example.com")
)
MONEY = mostly(st.decimals(0, 10**9, places=2).map(str))
SKUS = mostly(st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True))


def objects(required, optional=None):
    """Dicts with ``required`` keys and any of ``optional``, or any JSON (stray keys too)."""
    return mostly(st.fixed_dictionaries(required, optional=optional or {}))


NEW_USER = {"email": EMAILS, "name": mostly(text(1, 100)), "password": mostly(text(8, 128))}
ADMIN_ONLY = {
    "role": mostly(st.sampled_from(["customer", "admin"])),
    "status": mostly(st.sampled_from(["active", "disabled"])),
}
NEW_PRODUCT = {"sku": SKUS, "name": mostly(text(1, 200)), "price": MONEY}
LINE = objects({"product_id": IDS, "quantity": QUANTITIES})
LINES = mostly(st.lists(LINE, min_size=1, max_size=2))

CALLS = {
    "users": {
        "create_user": st.tuples(objects(NEW_USER, ADMIN_ONLY)),
        "get_user": st.tuples(IDS),
        "list_users": st.tuples(COUNTS, COUNTS),
        "update_user": st.tuples(IDS, objects({}, {**NEW_USER, **ADMIN_ONLY})),
        "delete_user": st.tuples(IDS),
        "login": st.tuples(EMAILS, mostly(text(1, 128))),
    },
    "inventory": {
        "create_product": st.tuples(objects(NEW_PRODUCT, {"stock": STOCK})),
        "get_product": st.tuples(IDS),
        "get_products": st.tuples(mostly(st.lists(IDS, max_size=4))),
        "list_products": st.tuples(COUNTS, COUNTS),
        "update_product": st.tuples(IDS, objects({}, {**NEW_PRODUCT, "stock": STOCK})),
        "adjust_stock": st.tuples(IDS, COUNTS),
    },
    "orders": {
        "create_order": st.tuples(IDS, LINES, mostly(text(1, 100), st.none())),
        "get_order": st.tuples(IDS),
        "list_orders": st.tuples(st.none() | IDS, COUNTS, COUNTS),
        "cancel_order": st.tuples(IDS),
        "complete_order": st.tuples(IDS),
    },
}


def calls(service):
    return st.one_of(*(st.tuples(st.just(m), a) for m, a in sorted(CALLS[service].items())))


# --- the services ------------------------------------------------------------------


@pytest.fixture
def db_uris(pg_db_uris):
    return pg_db_uris  # PostgreSQL only: the strict one about text and widths


@pytest.fixture
def rpc_only_shop(shop_config):
    """The three services answering RPC, without their event handlers.

    An accepted call (an order, say) would otherwise start a saga that writes rows
    in the background while the next example counts them.
    """
    runner = ServiceRunner(shop_config)
    for service_cls in (UsersService, InventoryService, OrdersService):
        runner.add_service(service_cls)
        container = get_container(runner, service_cls)
        keep = [e.method_name for e in container.entrypoints if not isinstance(e, EventHandler)]
        restrict_entrypoints(container, *keep)
    runner.start()
    try:
        with ClusterRpcProxy(shop_config, timeout=30) as rpc:
            # Rows for the drawn ids to find: admin 1, customer 2, product 1, order 1.
            rpc.users.create_user({"email": "c@example.com", "name": "C", "password": "pass-word"})
            rpc.inventory.create_product({"sku": "P-1", "name": "P", "price": "2.50", "stock": 9})
            rpc.orders.create_order(2, [{"product_id": 1, "quantity": 1}], "seeded")
            yield rpc
    finally:
        runner.kill()


@pytest.mark.parametrize("service", sorted(CALLS))
def test_any_arguments_get_a_result_or_a_business_error_and_a_rejection_writes_nothing(
    rpc_only_shop, db_uris, service
):
    proxy = getattr(rpc_only_shop, service)

    with row_counter(db_uris) as row_counts:

        @settings(
            max_examples=EXAMPLES[service],
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(call=calls(service))
        def any_call(call):
            method, arguments = call
            allowed = (*BUSINESS_ERRORS, Unauthorized) if method == "login" else BUSINESS_ERRORS
            before = row_counts()
            note(ascii(call))  # hypothesis cannot show a lone surrogate as it is
            try:
                getattr(proxy, method)(*arguments)
            except allowed:
                assert row_counts() == before

        any_call()

    assert proxy.health()["status"] == "ok"
