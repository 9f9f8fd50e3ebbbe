from shop.redact import REDACTED, is_secret_key, redact, redact_text


def test_keys_named_like_credentials_are_secret():
    for key in ("password", "new_password", "access_token", "Authorization", "api_key", "secret"):
        assert is_secret_key(key), key
    for key in ("email", "name", "sku", "quantity"):
        assert not is_secret_key(key), key


def test_a_key_is_judged_the_same_whether_its_answer_is_kept_or_not():
    # Keys of up to 64 characters are searched once and their answer kept; longer ones
    # (a client's, perhaps) every time.
    for filler in ("x", "x" * 100):
        assert is_secret_key(f"{filler}_password") and is_secret_key(f"{filler}_password")
        assert not is_secret_key(f"{filler}_name") and not is_secret_key(f"{filler}_name")


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


# A real argon2id hash (of "correct-horse"): commas and dollars inside, no quote or space.
ARGON2 = (
    "$argon2id$v=19$m=65536,t=3,p=4$2f7tSOyU3ONhxnL6sZTNrw"
    "$EQcSzfzmgvBzT6wU8pS1x7gF5l1Xz+8rUYe5m0CByvk"
)
BCRYPT = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"


def secret_parts(password_hash):
    """Every piece of a hash worth hiding: its cost parameters, salt and digest."""
    return [part for part in password_hash.split("$") if len(part) > 8]


def test_a_password_hash_in_a_failed_statement_is_redacted_whole_in_either_param_style():
    # How SQLAlchemy prints the parameters of a failed INSERT: named for psycopg2,
    # positional for SQLite (no key names a positional parameter).
    named = (
        "[SQL: INSERT INTO users (email, password_hash) VALUES (%(email)s, %(password_hash)s)]"
        f"\n[parameters: {{'email': 'ann@example.com', 'password_hash': '{ARGON2}', "
        "'role': 'customer'}]"
    )
    positional = f"[parameters: ('ann@example.com', 'Ann', '{ARGON2}', 'customer', 0)]"

    for text in (named, positional):
        scrubbed = redact_text(text)
        for part in secret_parts(ARGON2):
            assert part not in scrubbed, (part, scrubbed)
        assert "ann@example.com" in scrubbed and "customer" in scrubbed


def test_bcrypt_and_argon2_hashes_are_redacted_anywhere_in_free_text():
    for password_hash in (ARGON2, BCRYPT):
        scrubbed = redact_text(f"stored {password_hash} for user 7")

        assert scrubbed == f"stored {REDACTED} for user 7"


def test_a_quoted_secret_is_redacted_up_to_its_closing_quote():
    text = "{'password': 'correct horse, battery staple', 'name': 'Ann'}"

    scrubbed = redact_text(text)

    assert scrubbed == f"{{'password': '{REDACTED}', 'name': 'Ann'}}"
