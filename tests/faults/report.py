"""Print the fault suite's last results (var/faults/*.json) as a Markdown table.

.venv/bin/python -m tests.faults.report
"""

import json

from tests.faults.conftest import RESULTS


def _statuses(counts):
    return ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=str)) or "-"


def main():
    print(
        "| scenario | fault (s) | answers during the fault | answers after | "
        "slowest failure (s) | first order after (s) | settled after load (s) | "
        "orders | lost | doubled | dead letters | load | reproduce |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for path in sorted(RESULTS.glob("*.json")):
        row = json.loads(path.read_text())
        print(
            f"| {row['scenario'].replace('_', ' ')} | {row['fault_seconds']} "
            f"| {_statuses(row['requests'].get('fault', {}))} "
            f"| {_statuses(row['requests'].get('after', {}))} "
            f"| {row['slowest_failure_during_fault_s']} | {row['first_order_after_fault_s']} "
            f"| {row['settled_after_load_s']} | {row['orders']} | {row['lost']} "
            f"| {row['doubled']} | {sum(row['dead_letters'].values())} "
            f"| {row.get('load', '')} | `{row.get('command', '')}` |"
        )


if __name__ == "__main__":
    main()
