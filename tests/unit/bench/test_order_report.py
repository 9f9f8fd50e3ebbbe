"""bench.order_report's chart: every bar adds up to what its process figures say."""

import json
from pathlib import Path

import pytest

from bench.order_report import chart_bars, command_line

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results" / "order_path.json"


@pytest.fixture
def results():
    return json.loads(RESULTS.read_text())


def test_the_floor_bar_holds_the_floor_scripts_cpu_too(results):
    floor = results["floor"]

    bars = chart_bars(results["summary"]["orders_c32"], floor)

    assert sum(bars["floor"].values()) == pytest.approx(floor["cpu_total_ms"], abs=0.01)


def test_each_variants_bar_is_its_parts_and_nothing_of_the_floor(results):
    entry = results["summary"]["orders_c32"]

    bars = chart_bars(entry, None)

    assert set(bars) == {"baseline", "ours"}
    for variant, parts in bars.items():
        assert parts["floor script"] == 0.0
        assert parts["orders"] == entry["cpu_orders_ms"][variant]["median"]


def test_the_command_shown_names_every_revision_that_ran():
    meta = {"baseline": "c8d7799" + "0" * 33, "variants": {"no-replica": "59c9d5f" + "0" * 33}}

    assert command_line(meta) == (
        "python -m bench.order_path --baseline c8d7799 --variant no-replica=59c9d5f"
    )
