"""Keep secrets out of span attributes and log lines.

A value is secret when its key looks like a credential; free text is scrubbed
of ``key=value`` pairs with such keys, bearer tokens, JWTs and password hashes.
"""

import functools
import re

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[-_]?key|credential|"
    r"cookie|private[-_]?key|signature",
    re.IGNORECASE,
)
_SECRET_NAMES = (
    r"[\w.-]*(?:password|passwd|secret|token|authorization|api[-_]?key|credential|cookie)[\w.-]*"
)
# `password=x`, `"token": "x"`, `secret: x` inside free text. A quoted value
# runs to its closing quote (to the end of the line if it has none): a password
# may hold spaces and commas, and so does an argon2 hash ($argon2id$v=19$m=65536,t=3,...).
_VALUE = r"""'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|['"][^\n]*|[^"',\s}\]]+"""
_KEY_VALUE = re.compile(
    rf"""(?P<key>["']?{_SECRET_NAMES}["']?\s*[:=]\s*)(?P<value>{_VALUE})""", re.IGNORECASE
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# A password hash in modular crypt / PHC form (argon2, bcrypt, scrypt, pbkdf2),
# wherever it is: SQLite prints a failed statement's parameters without names.
_HASH_SCHEMES = r"\$(?:argon2(?:id|i|d)|2[abxy]|scrypt|pbkdf2)"
_PASSWORD_HASH = re.compile(rf"{_HASH_SCHEMES}[\w-]*\$[\w+/.=,$-]+")


def is_secret_key(key):
    if not isinstance(key, str):
        return False
    if len(key) > _LONGEST_CACHED_KEY:  # a client's, perhaps: not worth keeping
        return _SECRET_KEY.search(key) is not None
    return _names_a_secret(key)


# Log lines and spans use the same few dozen keys again and again: each is searched once.
_LONGEST_CACHED_KEY = 64


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key):
    return _SECRET_KEY.search(key) is not None


# Every pattern above needs one of these; most text has none and skips the regexes.
_TRIGGER = re.compile(
    rf"pass|secret|token|auth|key|cred|cookie|bearer|basic|eyj|{_HASH_SCHEMES}", re.IGNORECASE
)


def redact_text(text):
    if not isinstance(text, str) or not text:
        return text
    if _TRIGGER.search(text) is None:
        return text
    text = _JWT.sub(REDACTED, text)
    text = _PASSWORD_HASH.sub(REDACTED, text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    return _KEY_VALUE.sub(_redact_value, text)


def _redact_value(match):
    value = match.group("value")
    quote = value[0] if value[0] in "'\"" else ""
    closing = quote if len(value) > 1 and value.endswith(quote) else ""
    return f"{match.group('key')}{quote}{REDACTED}{closing}"


def redact(value, depth=0):
    """A copy of ``value`` with secret-named keys masked and strings scrubbed."""
    if depth > 8:
        return REDACTED
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) else redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
