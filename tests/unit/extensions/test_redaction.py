from extensions.redact import REDACTED, is_secret_key, redact, redact_text


def test_keys_named_like_credentials_are_secret():
    for key in ("password", "new_password", "access_token", "Authorization", "api_key", "secret"):
        assert is_secret_key(key), key
    for key in ("email", "name", "sku", "quantity"):
        assert not is_secret_key(key), key


def test_nested_secret_values_are_masked_and_other_values_kept():
    data = {"email": "a@example.com", "user": {"password": "hunter2", "tags": [{"token": "t"}]}}

    assert redact(data) == {
        "email": "a@example.com",
        "user": {"password": REDACTED, "tags": [{"token": REDACTED}]},
    }
    assert data["user"]["password"] == "hunter2", "the original is left untouched"


def test_free_text_loses_key_value_secrets_bearer_tokens_and_jwts():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    text = f'password=hunter2 "access_token": "{jwt}" Authorization: Bearer abc.def'

    scrubbed = redact_text(text)

    for secret in ("hunter2", jwt, "abc.def"):
        assert secret not in scrubbed
    assert scrubbed.startswith(f"password={REDACTED}")
