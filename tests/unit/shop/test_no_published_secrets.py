"""No token secret ships with the shop, and none written anywhere in it would be accepted.

"Written anywhere" is found, not listed: every value in a secret position (a key or
variable named like ``*secret*``, a ``${..._SECRET:-default}``, a jwt.encode key) in
every file of the checkout and every line ever added in its history must be refused
by ``shop.token_secret``: a new one fails here until it joins ``PUBLISHED``.
"""

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from extensions.config import load_config
from shop.token_secret import PUBLISHED, problem_with
from tests import yaml_files

REPO = Path(__file__).resolve().parents[3]

# NAME: value, NAME=value, "NAME": "value", NAME = "value", --from-literal=name=value
_ASSIGNED = re.compile(
    r"""(?ix) ["']?[\w.-]*secret[\w.-]*["']? \s* (?::|=) \s*
    (?P<value>"[^"]*"|'[^']*'|[^\s,)}#]+)"""
)
# ${JWT_SECRET:default} (Nameko), ${JWT_SECRET:-default} and ${JWT_SECRET-default} (shell)
_DEFAULTED = re.compile(r"(?i)\$\{\w*secret\w*(?::-?|-)(?P<value>[^}?][^}]*)\}")
# jwt.encode(payload, "key", ...) / jwt.decode(token, "key", ...)
_JWT_KEY = re.compile(r"""jwt\.(?:en|de)code\([^,]+,\s*(?P<value>"[^"]*"|'[^']*')""")


def _values_in(line, python):
    found = []
    for pattern in (_ASSIGNED, _DEFAULTED, _JWT_KEY):
        for match in pattern.finditer(line):
            value = match.group("value")
            quoted = value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1
            if python and not quoted:
                continue  # a name or a call, not a literal
            value = value[1:-1] if quoted else value
            # ${...}, $(...), !raw_env_var: filled in elsewhere, not written down here.
            if value and value[0] not in "$!{<" and "${" not in value:
                found.append(value)
    return found


def _secret_lines(text):
    for number, line in enumerate(text.splitlines(), 1):
        if "secret" in line.lower():
            yield number, line


def _git(*args, **options):
    """What ``git *args`` prints, run in the checkout."""
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, **options
    ).stdout


def _checkout_files():
    listing = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return [REPO / name for name in listing.split("\0") if name]


def _written_in_checkout():
    for path in _checkout_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary, or deleted and not yet committed
        for number, line in _secret_lines(text):
            for value in _values_in(line, path.suffix == ".py"):
                yield f"{path.relative_to(REPO)}:{number}", value


def _written_in_history():
    log = _git("log", "-p", "--no-color", "--format=commit %H", "HEAD", errors="replace")
    commit = path = ""
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1][:10]
        elif line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else ""
        elif line.startswith("+") and "secret" in line.lower():
            for value in _values_in(line[1:], path.endswith(".py")):
                yield f"{commit}:{path}", value


def test_the_sweep_finds_secrets_where_they_are_written():
    # The positions the sweep must see, each as the repository once wrote it.
    samples = {
        "  SECRET: ${JWT_SECRET:dev-only-secret-change-me-0123456789abcdef}": False,
        "  JWT_SECRET: ${JWT_SECRET:-compose-only-secret-change-me-0123456789abcdef}": False,
        "  JWT_SECRET: change-me-to-64-random-characters-0123456789abcdef0123456789": False,
        'SECRET = "unit-test-secret-0123456789abcdef-0123456789"': True,
        'TOKEN = {"SECRET": "unit-test-secret-0123456789abcdef", "ALGORITHM": "HS256"}': True,
        'jwt.encode(claims, "example-key-for-the-sweep-0123456789abcdef", algorithm="HS")': True,
        "JWT_SECRET=replace-me-with-the-output-of-python3-secrets-token-hex-32": False,
    }
    for line, python in samples.items():
        assert _values_in(line, python), line
    # And not where a secret is only named or made.
    for line in (
        "  SECRET: !raw_env_var ${JWT_SECRET:}",
        '  JWT_SECRET: "${JWT_SECRET:?copy docker/.env.example to docker/.env}"',
        'kubectl create secret generic s --from-literal=jwt-secret="$(openssl rand -hex 32)"',
        "SECRET = secrets.token_hex(32)",
        '"JWT_SECRET": shop_config["TOKEN"]["SECRET"],',
    ):
        assert not _values_in(line, line.startswith(("SECRET =", '"JWT'))), line


def test_every_secret_written_in_the_checkout_is_refused():
    accepted = {where: v for where, v in _written_in_checkout() if problem_with(v) is None}

    assert not accepted, (
        "These values are written in the repository, so anyone can sign tokens with them: "
        f"add them to shop.token_secret.PUBLISHED, or make the value at run time: {accepted}"
    )


def test_every_secret_ever_committed_is_refused():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    accepted = {where: v for where, v in _written_in_history() if problem_with(v) is None}

    assert not accepted, f"committed once, public for good: add to PUBLISHED: {accepted}"


def test_every_published_value_and_any_placeholder_is_refused():
    for value in PUBLISHED:
        assert problem_with(value) is not None, value
    assert problem_with("please-change-me-" + secrets.token_hex(16)) is not None
    assert problem_with(secrets.token_hex(32)) is None


def test_config_yaml_has_no_default_token_secret(monkeypatch):
    monkeypatch.delenv("JWT_SECRET", raising=False)

    assert load_config(str(REPO / "config.yaml"))["TOKEN"]["SECRET"] in ("", None)


def test_config_yaml_keeps_the_secret_a_string_whatever_it_looks_like(monkeypatch):
    # Nameko parses ${VAR} values as YAML: "0x..." would become a number.
    secret = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("JWT_SECRET", secret)

    assert load_config(str(REPO / "config.yaml"))["TOKEN"]["SECRET"] == secret


def test_compose_and_kubernetes_write_down_no_token_secret():
    compose = yaml_files.load(REPO / "docker" / "compose.yaml")
    for name, service in compose["services"].items():
        value = (service.get("environment") or {}).get("JWT_SECRET")
        # Only from the env file, with no fall-back: ${JWT_SECRET:?...}
        assert value is None or value.startswith("${JWT_SECRET:?"), (name, value)
    for path in sorted((REPO / "docker" / "k8s").rglob("*.yaml")):
        for document in yaml_files.load_all(path):
            if isinstance(document, dict) and document.get("kind") == "Secret":
                assert not document.get("data") and not document.get("stringData"), path
