"""Tokens the gateway must refuse: each one claims to be the admin, on an admin route,
and must come back 401 with the JSON envelope, where a token the gateway accepted would
get the user list (200; the positive control proves it)."""

import jwt

from tests.e2e.security import forge

# Every JWT secret that has been public in this repository (config.yaml's default,
# docker/compose.yaml's, the Kubernetes example's, the unit tests'). Listed here rather
# than read from those files, which are losing their defaults: a deployment still
# running one of them must not be fooled by a token anyone can make with it.
PUBLIC_SECRETS = [
    "dev-only-secret-change-me-0123456789abcdef",
    "compose-only-secret-change-me-0123456789abcdef",
    "change-me-to-64-random-characters-0123456789abcdef0123456789",
    "unit-test-secret-0123456789abcdef-0123456789",
    # And what people type when told to set one.
    "secret",
    "changeme",
    "",
]

ADMIN_ROUTE = "/api/users"


def _admin_id(api, admin_token):
    return api.get("/api/users/me", token=admin_token).json()["id"]


def _refusal(response):
    """(status, error code, WWW-Authenticate, message) of a response: a 401 must be all of them."""
    body = response.json() if response.headers.get("Content-Type") == "application/json" else {}
    return (
        response.status_code,
        body.get("error"),
        response.headers.get("WWW-Authenticate"),
        body.get("message"),
    )


INVALID = (401, "UNAUTHORIZED", "Bearer", "Invalid token")
EXPIRED = (401, "UNAUTHORIZED", "Bearer", "Token expired")


def test_forged_tokens_claiming_the_admin_get_401(api, admin_token, shop_config):
    secret = shop_config["TOKEN"]["SECRET"]
    admin_id = _admin_id(api, admin_token)
    admin = forge.claims(admin_id, "admin")
    attacker = forge.RsaKey()
    _customer, customer_token = api.sign_up("eve@example.com", "Eve")
    customer_claims = jwt.decode(customer_token, options={"verify_signature": False})

    tokens = {
        # alg: none, in the spellings libraries have been caught accepting.
        "alg none": forge.unsigned(admin),
        "alg None": forge.unsigned(admin, alg="None"),
        "alg NONE": forge.unsigned(admin, alg="NONE"),
        "alg nOnE": forge.unsigned(admin, alg="nOnE"),
        "alg none, real signature kept": forge.unsigned(
            admin, signature=admin_token.split(".")[2]
        ),
        # Forged: the customer's own token with an admin payload, or another key.
        "customer token, payload changed to admin": forge.with_payload(
            customer_token, {**customer_claims, "role": "admin"}
        ),
        "customer token, payload changed to the admin's id": forge.with_payload(
            customer_token, {**customer_claims, "sub": str(admin_id), "role": "admin"}
        ),
        "signed with another secret": forge.hs(admin, "attacker-secret-0123456789abcdef"),
        "signed with an empty secret": forge.hs(admin, b""),
        "kid pointing at /dev/null, empty secret": forge.hs(admin, b"", kid="../../../dev/null"),
        "signature stripped": admin_token.rsplit(".", 1)[0] + ".",
        # HS/RS confusion: RS256 with the attacker's key (and that key embedded, or
        # linked, as a JWK), and HS256 keyed with an RSA public key as the HMAC secret.
        "RS256, attacker's key": forge.rs256(admin, attacker),
        "RS256, attacker's key embedded as jwk": forge.rs256(admin, attacker, jwk=attacker.jwk()),
        "RS256, jku to the attacker's key set": forge.rs256(
            admin, attacker, jku="https://attacker.example/jwks.json"
        ),
        "HS256 keyed with an RSA public key (PEM)": forge.hs(admin, attacker.public_pem()),
        "HS256 keyed with an RSA public key (PEM), jwk embedded": forge.hs(
            admin, attacker.public_pem(), jwk=attacker.jwk()
        ),
        # The real secret, but another algorithm than the pinned HS256.
        "HS512 with the real secret": forge.hs(admin, secret, alg="HS512"),
        "HS384 with the real secret": forge.hs(admin, secret, alg="HS384"),
        # The real secret, claims the gateway does not accept.
        "real secret, role root": forge.hs(forge.claims(admin_id, "root"), secret),
        "real secret, no exp": forge.hs({k: v for k, v in admin.items() if k != "exp"}, secret),
        "real secret, sub not a number": forge.hs(forge.claims("1 OR 1=1", "admin"), secret),
        "real secret, sub a JSON number": forge.hs({**admin, "sub": admin_id}, secret),
        "garbage": "not.a.jwt",
        "empty": "",
    }
    expected = {name: INVALID for name in tokens}
    # The HTTP layer folds "Bearer " with nothing after it into a missing-token message.
    expected["empty"] = (*INVALID[:3], "Use an 'Authorization: Bearer <token>' header")

    answers = {
        name: _refusal(api.get(ADMIN_ROUTE, headers={"Authorization": f"Bearer {token}"}))
        for name, token in tokens.items()
    }

    assert answers == expected
    # The control: the same claims signed as the users service signs them get in.
    assert api.get(ADMIN_ROUTE, token=forge.hs(admin, secret)).status_code == 200


def test_an_expired_token_gets_401_token_expired(api, admin_token, shop_config):
    secret = shop_config["TOKEN"]["SECRET"]
    admin_id = _admin_id(api, admin_token)

    expired = {
        # Past the gateway's 5 s leeway for clock skew.
        "an hour ago": forge.hs(forge.claims(admin_id, "admin", ttl=-3600), secret),
        "ten seconds ago": forge.hs(forge.claims(admin_id, "admin", ttl=-10), secret),
    }

    answers = {name: _refusal(api.get(ADMIN_ROUTE, token=t)) for name, t in expired.items()}

    assert answers == {name: EXPIRED for name in expired}


def test_tokens_signed_with_a_public_default_secret_get_401(api, admin_token, shop_config):
    assert shop_config["TOKEN"]["SECRET"] not in PUBLIC_SECRETS  # this test's own secret
    admin = forge.claims(_admin_id(api, admin_token), "admin")

    answers = {
        secret: _refusal(api.get(ADMIN_ROUTE, token=forge.hs(admin, secret)))
        for secret in PUBLIC_SECRETS
    }

    assert answers == {secret: INVALID for secret in PUBLIC_SECRETS}


def test_an_authorization_header_that_is_not_one_bearer_token_gets_401(api, admin_token):
    headers = [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Token " + admin_token,
        f"Bearer {admin_token} {admin_token}",
        f"Bearer {admin_token}.",
    ]

    answers = {
        header: _refusal(api.get(ADMIN_ROUTE, headers={"Authorization": header}))[:3]
        for header in headers
    }

    assert answers == {header: (401, "UNAUTHORIZED", "Bearer") for header in headers}
