"""CPU time by component, read from /proc: where the time of a request goes."""

import os
import subprocess
from functools import cache
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@cache
def broker_pid():
    """The machine's RabbitMQ node (the one on 5672), or None when rabbitmqctl cannot say.

    Other nodes may run beside it (tests that build clusters of their own), so
    "every beam.smp" would count their work too."""
    try:
        answer = subprocess.run(
            ["rabbitmqctl", "eval", "os:getpid()."],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return int(answer.strip().splitlines()[-1].strip('"'))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def _processes():
    """pid -> (parent pid, command name, cpu seconds, cpu seconds of its ended children)
    for every process we may read."""
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
        table[int(entry.name)] = (
            int(fields[1]),
            name,
            (int(fields[11]) + int(fields[12])) / TICK,
            (int(fields[13]) + int(fields[14])) / TICK,
        )
    return table


def _tree(table, root):
    pids, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, *_) in table.items() if ppid == parent]
        pids.update(children)
        frontier.extend(children)
    return pids


def sample(roots, not_postgres=()):
    """CPU seconds per component and process; ``roots`` maps a name to a process id.

    Kept per process so that a difference ignores processes that ended between
    two samples, rather than going negative. A PostgreSQL backend that ended is
    counted all the same, through its server's ``ended`` entry: the CPU of the
    children it has reaped. A pool too small for its load opens and closes a
    connection, a backend of about 3 ms of CPU, within a few milliseconds; left
    out, that cost would not show anywhere. So nothing else may open and close
    connections during the window: ``not_postgres``, the backends of the
    measuring connections, are left out."""
    table = _processes()
    groups = {name: _tree(table, pid) for name, pid in roots.items()}
    broker = broker_pid()
    if broker is not None:
        groups["broker"] = _tree(table, broker)
    else:
        groups["broker"] = {pid for pid, (_, name, *_) in table.items() if name == "beam.smp"}
    for group, command in (("postgres", "postgres"), ("redis", "redis-server")):
        groups[group] = {pid for pid, (_, name, *_) in table.items() if name == command}
    groups["postgres"] -= set(not_postgres)
    totals = {name: {p: table[p][2] for p in pids if p in table} for name, pids in groups.items()}
    for pid in groups["postgres"]:
        parent = table.get(table[pid][0])
        if parent is None or parent[1] != "postgres":  # the server, parent of the backends
            totals["postgres"][f"{pid} ended"] = table[pid][3]
    totals["load"] = {os.getpid(): sum(os.times()[:2])}
    return totals


def process_seconds(pids):
    """CPU seconds of each of ``pids`` still running."""
    table = _processes()
    return {pid: table[pid][2] for pid in pids if pid in table}


def used_seconds(before, after):
    """Seconds of CPU per component between two samples.

    In a group with an ``ended`` entry (PostgreSQL's), a process that ran at the
    first sample and had ended by the second is in that entry with the CPU of its
    whole life: what it had spent by the first sample is taken off again."""
    used = {}
    for name, pids in after.items():
        earlier = before.get(name, {})
        spent = sum(cpu - earlier.get(pid, 0.0) for pid, cpu in pids.items())
        if any(isinstance(pid, str) for pid in pids):
            spent -= sum(cpu for pid, cpu in earlier.items() if pid not in pids)
        used[name] = spent
    return used


def per_request_ms(before, after, requests):
    used = used_seconds(before, after)
    return {k: round(v * 1000 / max(requests, 1), 3) for k, v in used.items()}


def cpu_seconds(pids):
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    table = _processes()
    return sum(table[pid][2] for pid in pids if pid in table)
