"""schemathesis fuzzes every documented operation against the running shop.

Every check is on: no response may be a 5xx, every response must match the
document (status, content type, headers, body schema), and the document must
say exactly what is accepted: a request it allows is not refused, one it forbids
is. Run once as an admin (so the admin routes get past the auth check) and once
anonymously.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCHEMATHESIS = Path(sys.executable).with_name("st")
REPO = Path(__file__).resolve().parents[3]
HOOKS = "tests.e2e.gateway.schemathesis_hooks"


@pytest.mark.parametrize("caller", ["admin", "anonymous"])
def test_no_fuzzed_request_gets_a_server_error_or_breaks_the_documented_schema(
    api, admin_token, caller, tmp_path
):
    headers = ["-H", f"Authorization: Bearer {admin_token}"] if caller == "admin" else []

    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{api.base_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "10",
            "--seed",
            "20240601",
            # One worker: hypothesis's lambda introspection is not thread-safe on 3.11.
            "--workers",
            "1",
            "--max-time",
            "30",
            # The document forbids NUL in every text (a pattern), but the stateful phase
            # of schemathesis 4.32 does not always keep to a pattern and reported its own
            # NUL as "schema-valid request rejected". NUL itself is covered by
            # test_bad_input_over_http.py and tests/unit/shop/test_storable_text.py.
            "--generation-allow-x00",
            "false",
            "--request-timeout",
            "20",
            "--report-dir",
            str(tmp_path),
            *headers,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS},
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
