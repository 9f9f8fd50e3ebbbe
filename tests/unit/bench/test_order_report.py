"""bench.order_report: every bar of its chart adds up to what its process figures
say, and a run's ratio is of the means of its windows."""

import json
from pathlib import Path

import pytest

from bench.order_report import _knockouts, chart_bars, command_line, per_run, summarize

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


def _window(run, variant, total):
    return {"run": run, "kind": "reads_c8", "variant": variant, "cpu_total_ms": total}


def test_a_runs_ratio_is_of_the_means_of_its_a_b_b_a_windows():
    # The machine slows down through the run: each shop's second window costs more.
    windows = [
        _window(0, "baseline", 6.0),
        _window(0, "ours", 4.0),
        _window(0, "ours", 5.0),
        _window(0, "baseline", 8.0),
    ]

    cell = summarize(windows)["reads_c8"]["cpu_total_ms"]

    assert cell["baseline"]["median"] == 7.0
    assert cell["ours"]["median"] == 4.5
    assert cell["ratio"]["median"] == pytest.approx(4.5 / 7.0)


def test_per_run_keeps_runs_kinds_and_variants_apart():
    orders = {**_window(1, "ours", 30.0), "kind": "orders_c1"}
    windows = [_window(0, "ours", 4.0), _window(1, "ours", 6.0), _window(1, "baseline", 8.0)]
    windows.append(orders)

    rows = {(r["run"], r["kind"], r["variant"]): r["cpu_total_ms"] for r in per_run(windows)}

    assert rows == {
        (0, "reads_c8", "ours"): 4.0,
        (1, "reads_c8", "ours"): 6.0,
        (1, "reads_c8", "baseline"): 8.0,
        (1, "orders_c1", "ours"): 30.0,
    }


def test_the_command_shown_names_the_windows_runs_and_floor_left_out():
    meta = {"baseline": "c8d7799" + "0" * 33, "kinds": {"reads_c8": {}}, "runs": 5, "floor": False}

    assert command_line(meta) == (
        "BENCH_KINDS=reads_c8 python -m bench.order_path --baseline c8d7799 --runs 5 --no-floor"
    )


def test_what_a_change_saves_is_taken_from_each_runs_means_too():
    windows = [
        {**_window(0, variant, total), "cpu_gateway_ms": 0.0, "cpu_services_ms": 0.0}
        for variant, total in [("ours", 4.0), ("without", 7.0), ("without", 11.0), ("ours", 6.0)]
    ]
    for w in windows:
        w["cpu_pg_backends_ms"] = 0.0

    table = _knockouts(windows)

    assert "| without | 4.00 (4.00-4.00) |" in table  # (7 + 11) / 2 - (4 + 6) / 2, not 11 - 6
