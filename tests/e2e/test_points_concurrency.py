"""Loyalty points under concurrent completions of one user's orders."""

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from extensions.envelopes import envelope
from users.service import UsersService

COMPLETIONS = 20


def test_concurrent_completions_for_one_user_each_add_their_points(shop, shop_runner, shop_config):
    user = shop.users.create_user(
        {"email": "ann@example.com", "name": "Ann", "password": "correct-horse"}
    )
    dispatch = event_dispatcher(shop_config)
    handled = []

    def all_handled(worker_ctx, result, exc_info):
        handled.append(exc_info)
        return len(handled) == COMPLETIONS

    users = get_container(shop_runner, UsersService)
    with entrypoint_waiter(
        users, "add_points_for_completed_order", callback=all_handled, timeout=60
    ):
        for order_id in range(1, COMPLETIONS + 1):
            completed = {"order_id": order_id, "user_id": user["id"], "total": "5.00"}
            dispatch("orders", "order_completed", envelope({**completed, "items": []}))

    assert handled == [None] * COMPLETIONS
    assert shop.users.get_user(user["id"])["points"] == 5 * COMPLETIONS
