"""CPU time by component, read from /proc: where the time of a request goes."""

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _processes():
    """pid -> (parent pid, command name, cpu seconds) for every process we may read."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICK)
    return table


def _tree(table, root):
    pids, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        pids.update(children)
        frontier.extend(children)
    return pids


def sample(roots):
    """Cumulative CPU seconds per component; ``roots`` maps a name to a process id."""
    table = _processes()
    totals = {
        name: sum(table[p][2] for p in _tree(table, pid) if p in table)
        for name, pid in roots.items()
    }
    totals["broker"] = sum(cpu for _, name, cpu in table.values() if name == "beam.smp")
    totals["postgres"] = sum(cpu for _, name, cpu in table.values() if name == "postgres")
    totals["load"] = sum(os.times()[:2])
    return totals


def per_request_ms(before, after, requests):
    return {k: round((after[k] - before[k]) * 1000 / max(requests, 1), 3) for k in after}


def cpu_seconds(pids):
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    table = _processes()
    return sum(table[pid][2] for pid in pids if pid in table)
