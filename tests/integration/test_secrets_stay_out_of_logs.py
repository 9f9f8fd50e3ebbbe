"""No password, password hash, access token or JWT secret in a log line, a span
or a metric, whichever error path a request takes through the gateway and the
real services (PostgreSQL, RabbitMQ).

Every line is formatted by the shipped JSON formatter, at DEBUG, from every
logger; spans come from the in-memory exporter; metrics from both registries.
"""

import json
import logging
import re
import secrets
from io import StringIO

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import create_engine, select, text

from extensions.jsonlog import JsonFormatter
from extensions.tracer_provider import memory_exporter
from shop.errors import Unauthorized, ValidationError
from tests.integration.conftest import traced_in_memory
from tests.polling import eventually
from users.models import User

PASSWORD = "buyers-password-1"
NEW_PASSWORD = "buyers-new-password-2"
SIGN_UP_PASSWORD = "sign-up-password-3"
WRONG_PASSWORD = "wrong-password-4"
JWT_SECRET = secrets.token_hex(32)
# The parameters, salt and digest of an argon2 hash: whatever part of one shows, leaks.
HASH_PIECE = re.compile(r"m=\d+,t=\d+,p=\d+|\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{16,}")
# The service's database fails the way a full disk or a bug would, carrying the
# statement (and its parameters, a fresh password hash among them) in the error.
FAULTS = """
CREATE FUNCTION fail_like_a_broken_database() RETURNS trigger AS $$
BEGIN
    IF NEW.name = 'Internal Error' THEN
        RAISE EXCEPTION 'simulated internal error' USING ERRCODE = 'XX000';
    END IF;
    IF NEW.name = 'Disk Full' THEN
        RAISE EXCEPTION 'simulated full disk' USING ERRCODE = '53100';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER broken BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION fail_like_a_broken_database();
"""


@pytest.fixture
def db_uris(pg_db_uris):
    engine = create_engine(pg_db_uris["users:Base"])
    with engine.begin() as connection:
        connection.execute(text(FAULTS))
    engine.dispose()
    return pg_db_uris


@pytest.fixture
def shop_config(shop_config):
    return traced_in_memory(shop_config, TOKEN={**shop_config["TOKEN"], "SECRET": JWT_SECRET})


@pytest.fixture
def log_text():
    """Every log record of the test as the JSON line the shop would write."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    # pika is the gateway's AMQP client, and at DEBUG it prints whole request
    # bodies. The gateway writes only its own loggers' lines (gateway and below it),
    # never pika's; here, in one process with the services, the root sees them too.
    handler.addFilter(lambda record: not record.name.startswith("pika"))
    # The gateway's loggers do not propagate to the root: each gets the handler too.
    loggers = [logging.getLogger(name) for name in ("", "gateway")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield stream.getvalue
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def http(log_text, http):
    return http  # made once the log capture is in place


def span_text():
    return json.dumps(
        [
            {
                "name": span.name,
                "status": span.status.description,
                "attributes": dict(span.attributes),
                "events": [{"name": e.name, **dict(e.attributes)} for e in span.events],
            }
            for span in memory_exporter.get_finished_spans()
        ]
    )


def test_no_error_path_leaks_a_password_a_hash_a_token_or_the_jwt_secret(
    http, log_text, shop_config, db_uris
):
    def call(method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return getattr(http, method)(path, headers=headers, **kwargs)

    buyer = {"email": "buyer@example.com", "name": "Buyer", "password": PASSWORD}
    user_id = call("post", "/api/users", json=buyer).json["id"]
    credentials = {"email": buyer["email"], "password": PASSWORD}
    token = call("post", "/api/auth/token", json=credentials).json["access_token"]
    admin = call(
        "post",
        "/api/auth/token",
        json={"email": "admin@example.com", "password": "admin-password"},
    ).json["access_token"]
    sign_up = {"email": "new@example.com", "password": SIGN_UP_PASSWORD}
    statuses = {
        # The database fails: an unexpected error (a remote error at the gateway)...
        "internal": call("post", "/api/users", json={**sign_up, "name": "Internal Error"}),
        # ... and a database that cannot take the write (Unavailable).
        "unavailable": call(
            "patch",
            f"/api/users/{user_id}",
            token,
            json={"name": "Disk Full", "password": NEW_PASSWORD},
        ),
        # Remote errors the gateway maps: a taken email, a wrong password, no such user.
        "conflict": call("post", "/api/users", json={**buyer, "email": "BUYER@example.com"}),
        "unauthorized": call(
            "post",
            "/api/auth/token",
            json={"email": buyer["email"], "password": WRONG_PASSWORD},
        ),
        "not found": call("get", "/api/users/999999", admin),
        # Validation at the gateway, and tokens refused or not good enough.
        "invalid": call("post", "/api/users", json={**sign_up, "email": "not-an-email"}),
        "forbidden": call("get", "/api/users", token),
        "tampered": call("get", "/api/users/me", token[:-4] + "AAAA"),
    }
    # Past the gateway: validation at the service, and the error a Nameko caller
    # (another service, nameko shell) gets when the database fails.
    with ClusterRpcProxy(shop_config, timeout=30) as rpc:
        with pytest.raises(ValidationError):
            rpc.users.create_user({"email": "not-an-email", "name": "x", "password": PASSWORD})
        with pytest.raises(Unauthorized):
            rpc.users.login(buyer["email"], WRONG_PASSWORD)
        with pytest.raises(RemoteError) as internal:
            rpc.users.create_user({**sign_up, "name": "Internal Error"})

    assert {name: response.status_code for name, response in statuses.items()} == {
        "internal": 500,
        "unavailable": 503,
        "conflict": 409,
        "unauthorized": 401,
        "not found": 404,
        "invalid": 400,
        "forbidden": 403,
        "tampered": 401,
    }
    # The paths were taken: the services logged and traced the database errors.
    eventually(lambda: "simulated full disk" in span_text())
    logs = log_text()
    assert "simulated internal error" in logs and "simulated full disk" in logs
    assert "remote error not in the error table" in logs

    engine = create_engine(db_uris["users:Base"])
    with engine.connect() as connection:
        stored_hashes = connection.scalars(select(User.password_hash)).all()
    engine.dispose()
    captured = {
        "logs": logs,
        "spans": span_text(),
        "metrics": generate_latest(REGISTRY).decode() + call("get", "/metrics").text,
        "reply": repr((internal.value.exc_type, internal.value.value)),
    }
    secret_values = {
        "password": [PASSWORD, NEW_PASSWORD, SIGN_UP_PASSWORD, WRONG_PASSWORD, "admin-password"],
        "hash": [piece for h in stored_hashes for piece in h.split("$") if len(piece) > 8],
        "token": [token, admin, token.split(".")[2], admin.split(".")[2]],
        "jwt secret": [JWT_SECRET],
    }
    leaks = [
        (where, kind, value)
        for where, captured_text in captured.items()
        for kind, values in secret_values.items()
        for value in values
        if value in captured_text
    ]
    leaks += [
        (where, "hash", match.group())
        for where, captured_text in captured.items()
        for match in HASH_PIECE.finditer(captured_text)
    ]
    assert leaks == [], "\n".join(map(str, leaks))
