"""Input no database can take is a 400 at the gateway, writes nothing, and opens no circuit."""

import pytest

from tests.e2e.gateway.conftest import ADMIN
from tests.tables import row_counter

# A lone surrogate. requests sends it as JSON's "\ud800" escape (json.dumps keeps to
# ASCII), which any JSON parser, Python's included, decodes back to a lone surrogate.
LONE = "\ud800"
# 212 characters, but 412 in lower case ("İ" becomes "i" and a combining dot): longer
# than the column that stores emails normalised.
WIDENS = "\u0130" * 200 + "@example.com"
SIGN_UP = {"email": "new@example.com", "name": "New", "password": "correct-horse"}
CREDENTIALS = {"email": SIGN_UP["email"], "password": SIGN_UP["password"]}


def _assert_400(response):
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["error"] == "VALIDATION_ERROR"
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def _post_raw(api, path, text):
    return api.post(path, data=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("field", ["name", "password"])
def test_a_lone_surrogate_in_a_sign_up_is_a_400_and_writes_nothing(api, db_uris, field):
    with row_counter(db_uris) as row_counts:
        before = row_counts()
        response = api.post("/api/users", json={**SIGN_UP, field: f"{SIGN_UP[field]}{LONE}"})

        _assert_400(response)
        assert row_counts() == before


def test_a_sign_up_sent_with_the_escape_as_raw_text_is_a_400(api):
    text = '{"email": "raw@example.com", "name": "Ann\\ud800", "password": "correct-horse"}'

    _assert_400(_post_raw(api, "/api/users", text))


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_lone_surrogate_in_a_login_is_a_400(api, field):
    api.sign_up(SIGN_UP["email"], password=SIGN_UP["password"])

    response = api.post("/api/auth/token", json={**CREDENTIALS, field: f"a{LONE}b"})

    _assert_400(response)


def test_a_lone_surrogate_in_a_profile_change_is_a_400_and_writes_nothing(api, db_uris):
    user, token = api.sign_up(SIGN_UP["email"], password=SIGN_UP["password"])

    with row_counter(db_uris) as row_counts:
        before = row_counts()
        response = api.patch(f"/api/users/{user['id']}", token=token, json={"name": LONE})

        _assert_400(response)
        assert row_counts() == before
    assert api.get("/api/users/me", token=token).json()["name"] == user["name"]


@pytest.mark.parametrize(
    "text", ["[" * 5000 + "]" * 5000, '{"name": ' * 5000 + "1" + "}" * 5000], ids=["list", "dict"]
)
def test_json_nested_5000_deep_is_a_400(api, text):
    response = _post_raw(api, "/api/users", text)

    assert _assert_400(response)["details"] == {"body": ["Nested too deeply."]}


def test_an_email_too_long_once_in_lower_case_is_a_400_naming_it_and_writes_nothing(api, db_uris):
    user, token = api.sign_up(SIGN_UP["email"], password=SIGN_UP["password"])

    with row_counter(db_uris) as row_counts:
        before = row_counts()
        sign_up = api.post("/api/users", json={**SIGN_UP, "email": WIDENS})
        change = api.patch(f"/api/users/{user['id']}", token=token, json={"email": WIDENS})

        assert "email" in _assert_400(sign_up)["details"]
        assert "email" in _assert_400(change)["details"]
        assert row_counts() == before


def test_bad_logins_in_a_row_leave_good_logins_working_and_the_users_circuit_closed(
    shop_runner, start_gateway
):
    # One worker holds every request's breaker; two counted failures would open it.
    api = start_gateway(GATEWAY_WORKERS=1, BREAKER_FAIL_MAX=2, BREAKER_RESET_SECONDS=60)
    api.sign_up(SIGN_UP["email"], password=SIGN_UP["password"])
    bad = [
        ({**CREDENTIALS, "password": "wrong-password"}, 401),
        ({**CREDENTIALS, "email": "nobody@example.com"}, 401),
        ({**CREDENTIALS, "email": "not-an-email"}, 401),
        ({**CREDENTIALS, "email": WIDENS}, 401),
        ({**CREDENTIALS, "email": "x" * 300}, 400),
        ({**CREDENTIALS, "email": ""}, 400),
        ({**CREDENTIALS, "email": "nul\u0000@example.com"}, 400),
        ({**CREDENTIALS, "email": f"{LONE}@example.com"}, 400),
        ({**CREDENTIALS, "email": LONE}, 400),
        ({**CREDENTIALS, "password": f"wrong{LONE}"}, 400),
    ] * 2

    statuses = [api.post("/api/auth/token", json=body).status_code for body, _ in bad]

    assert statuses == [status for _, status in bad]
    for email, password in [(SIGN_UP["email"], SIGN_UP["password"]), ADMIN]:
        assert api.post("/api/auth/token", json={"email": email, "password": password}).ok
    assert api.get("/health/ready").status_code == 200  # its users check passes the breaker
    assert 'outcome="circuit_open"' not in api.get("/metrics").text
