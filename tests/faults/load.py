"""Steady order traffic through the gateway's HTTP API while a fault is injected.

Buyers place orders at a fixed rate, each with an ``Idempotency-Key``; a
buyer whose call fails with a 5xx or no answer retries with the same key, as
a careful client would, so an order is never placed twice. Some orders are
cancelled at once; some are completed by the admin once confirmed. Every
HTTP answer is recorded with the phase of the scenario it fell in.
"""

import collections
import itertools
import random
import threading
import time
import uuid

import requests

from tests.faults.processes import ADMIN

RETRY_FOR_SECONDS = 60
SETTLE_FOR_SECONDS = 90


def customers(base_url, buyers, products, stock):
    """Products and buyers for the load, made through the gateway at ``base_url``.

    Returns the admin's token, ``[(user id, token)]`` of the buyers, and
    ``{product id: stock}``.
    """
    http = requests.Session()
    admin = _token(http, base_url, *ADMIN)
    made = {}
    for index in range(products):
        response = _settled_call(
            http.post,
            f"{base_url}/api/products",
            json={"sku": f"F-{index}", "name": "Widget", "price": "3.50", "stock": stock},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        made[response.json()["id"]] = stock
    people = []
    for index in range(buyers):
        email, password = f"buyer{index}@example.com", "correct-horse-battery"
        response = _settled_call(
            http.post,
            f"{base_url}/api/users",
            json={"email": email, "name": f"Buyer {index}", "password": password},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        people.append((response.json()["id"], _token(http, base_url, email, password)))
    return admin, people, made


def _settled_call(send, *args, **kwargs):
    """A set-up call, repeated while a gateway worker that just started still
    connects to the broker (503), as any client would."""
    deadline = time.monotonic() + 30
    while (response := send(*args, **kwargs)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    return response


def _token(http, base_url, email, password):
    response = _settled_call(
        http.post,
        f"{base_url}/api/auth/token",
        json={"email": email, "password": password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Load:
    def __init__(self, base_urls, buyers, products, admin_token, rate=8.0, seed=0):
        self.base_urls = base_urls  # buyers take turns over the gateways
        self.buyers = buyers  # [(user_id, token)]
        self.products = products  # [product_id]
        self.admin_token = admin_token
        self.interval = len(buyers) / rate  # each buyer's pace
        self.random = random.Random(seed)
        self.phase = "before"
        self.answers = []  # (phase, action, status, seconds, monotonic time answered)
        self.accepted = {}  # order id -> (user id, idempotency key)
        self.abandoned = []  # idempotency keys given up on
        self.to_complete = collections.deque()
        self.running = False
        self.threads = []
        self.crashes = []
        self.lock = threading.Lock()

    # -- scenario control --------------------------------------------------

    def start(self):
        self.running = True
        for index, (user_id, token) in enumerate(self.buyers):
            base_url = self.base_urls[index % len(self.base_urls)]
            self._spawn(self._buy, base_url, user_id, token, self.random.random())
        self._spawn(self._complete, self.base_urls[0])

    def mark(self, phase):
        self.phase = phase

    def stop(self):
        """Stop placing orders; finish the follow-ups already under way."""
        self.running = False
        for thread in self.threads:
            thread.join(RETRY_FOR_SECONDS + SETTLE_FOR_SECONDS)

    def statuses(self):
        """``{phase: {status: count}}`` over every answer recorded."""
        table = collections.defaultdict(collections.Counter)
        for phase, _action, status, _seconds, _at in self.answers:
            table[phase][status] += 1
        return {phase: dict(counts) for phase, counts in table.items()}

    def slowest_failure(self, phase):
        """The longest a 5xx (or no answer) took to arrive in ``phase``."""
        return max(
            (s for p, _a, st, s, _at in self.answers if p == phase and not _succeeded(st)),
            default=0.0,
        )

    def first_order_after(self, moment):
        """Seconds from ``moment`` until an order was next accepted."""
        return min(
            (
                at - moment
                for _p, a, st, _s, at in self.answers
                if a == "create" and st == 201 and at > moment
            ),
            default=None,
        )

    # -- the traffic --------------------------------------------------------

    def _spawn(self, target, *args):
        def run():
            try:
                target(*args)
            except Exception as exc:  # a broken load generator must fail the test
                self.crashes.append(repr(exc))
                raise

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _buy(self, base_url, user_id, token, offset):
        http = requests.Session()
        time.sleep(offset * self.interval)  # spread the buyers over one interval
        for sequence in itertools.count():
            if not self.running:
                return
            started = time.monotonic()
            key = f"{user_id}-{sequence}-{uuid.uuid4().hex[:8]}"
            items = [
                {"product_id": product, "quantity": self.random.randint(1, 3)}
                for product in self.random.sample(self.products, self.random.randint(1, 2))
            ]
            order = self._until_answered(
                http,
                base_url,
                "create",
                "POST",
                "/api/orders",
                token,
                json={"items": items},
                headers={"Idempotency-Key": key},
            )
            if order is None:
                self.abandoned.append(key)
            else:
                with self.lock:
                    self.accepted[order["id"]] = (user_id, key)
                draw = self.random.random()
                if draw < 0.2:
                    path = f"/api/orders/{order['id']}/cancel"
                    self._until_answered(http, base_url, "cancel", "POST", path, token)
                elif draw < 0.6:
                    self.to_complete.append(order["id"])
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def _complete(self, base_url):
        http = requests.Session()
        while self.running or self.to_complete:
            if not self.to_complete:
                time.sleep(0.1)
                continue
            order_id = self.to_complete.popleft()
            deadline = time.monotonic() + SETTLE_FOR_SECONDS
            while time.monotonic() < deadline:
                order = self._until_answered(
                    http, base_url, "get", "GET", f"/api/orders/{order_id}", self.admin_token
                )
                if order is not None and order["status"] != "pending":
                    break
                time.sleep(0.2)
            if order is not None and order["status"] == "confirmed":
                path = f"/api/orders/{order_id}/complete"
                self._until_answered(http, base_url, "complete", "POST", path, self.admin_token)

    def _until_answered(self, http, base_url, action, method, path, token, **kwargs):
        """The JSON of a 2xx, None for a 4xx; retries 5xx and lost answers for a while."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while True:
            started = time.monotonic()
            try:
                response = http.request(
                    method, base_url + path, headers=headers, timeout=15, **kwargs
                )
                status = response.status_code
            except requests.RequestException:
                response, status = None, "no answer"
            now = time.monotonic()
            self.answers.append((self.phase, action, status, now - started, now))
            if response is not None and status < 500:
                return response.json() if status < 300 else None
            if time.monotonic() > deadline:
                return None
            time.sleep(0.5)


def _succeeded(status):
    return isinstance(status, int) and status < 500
