"""``bench.order_path``'s table (Markdown), raw numbers (JSON) and chart (PNG)."""

import json
import statistics

import matplotlib

matplotlib.use("Agg")  # no display here
import matplotlib.pyplot as plt

METRICS = {
    "per_second": "orders (reads) per second",
    "http_p50_ms": "HTTP p50 ms",
    "http_p99_ms": "HTTP p99 ms",
    "confirm_p50_ms": "POST to confirmed p50 ms",
    "confirm_p99_ms": "POST to confirmed p99 ms",
    "cpu_total_ms": "**CPU ms, whole machine**",
    "cpu_gateway_ms": "CPU ms, gateway",
    "cpu_services_ms": "CPU ms, services",
    "cpu_users_ms": "... users",
    "cpu_inventory_ms": "... inventory",
    "cpu_orders_ms": "... orders",
    "cpu_broker_ms": "CPU ms, RabbitMQ",
    "cpu_postgres_ms": "CPU ms, PostgreSQL",
    "cpu_pg_backends_ms": "... of it the backends of this shop's open connections",
    "cpu_redis_ms": "CPU ms, Redis",
    "amqp_published": "AMQP messages published",
    "amqp_delivered": "AMQP messages delivered",
    "sql_statements": "SQL statements",
    "sql_pings": "... of them pool pings",
    "sql_commits": "commits (driver)",
    "db_commits": "commits (pg_stat_database)",
    "db_sessions": "PostgreSQL connections opened",
}
TITLES = {
    "orders_c1": "Orders, one at a time (per confirmed order)",
    "orders_c32": "Orders, 32 concurrent clients (per confirmed order)",
    "reads_c8": "`GET /api/products/<id>`, 8 concurrent clients (per request)",
}
COMPONENTS = ("gateway", "users", "inventory", "orders", "broker", "postgres", "redis")
FLOOR_SCRIPT = "floor script"
STACKED = (*COMPONENTS, FLOOR_SCRIPT)


def _spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def per_run(windows):
    """One row per run, kind and variant: the mean of that run's windows (A B B A)."""
    groups = {}
    for w in windows:
        groups.setdefault((w["run"], w["kind"], w["variant"]), []).append(w)
    rows = []
    for (run, kind, variant), group in groups.items():
        row = {"run": run, "kind": kind, "variant": variant}
        for metric in METRICS:
            values = [w[metric] for w in group if w.get(metric) is not None]
            row[metric] = statistics.fmean(values) if values else None
        rows.append(row)
    return rows


def summarize(windows):
    windows = per_run(windows)
    summary = {}
    for kind in dict.fromkeys(w["kind"] for w in windows):
        rows = [w for w in windows if w["kind"] == kind]
        variants = list(dict.fromkeys(w["variant"] for w in rows))
        entry = summary[kind] = {}
        for metric in METRICS:
            cell = entry[metric] = {
                v: _spread([w.get(metric) for w in rows if w["variant"] == v]) for v in variants
            }
            if {"baseline", "ours"} <= set(variants):
                # Each run's means, measured in the same minutes: their ratio is freer of noise.
                pairs = {}
                for w in rows:
                    pairs.setdefault(w["run"], {})[w["variant"]] = w.get(metric)
                cell["ratio"] = _spread(
                    [p["ours"] / p["baseline"] for p in pairs.values() if p.get("baseline")]
                )
    return summary


def _cell(spread, digits=2):
    if spread is None:
        return "-"
    return f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}-{spread['max']:.{digits}f})"


def _table(kind, entry, floor):
    variants = [v for v in ("baseline", "ours", "ratio") if v in entry["per_second"]]
    head = {"baseline": "baseline", "ours": "this tree", "ratio": "this / baseline"}
    lines = [
        f"**{TITLES[kind]}**",
        "",
        "| | " + " | ".join(head[v] for v in variants) + (" | floor |" if floor else " |"),
        "|---|" + "---:|" * (len(variants) + bool(floor)),
    ]
    for metric, label in METRICS.items():
        if all(entry[metric].get(v) is None for v in variants):
            continue
        cells = [_cell(entry[metric].get(v)) for v in variants]
        if floor:
            value = floor.get(metric)
            cells.append("-" if value is None else f"{value:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _own_ms(window):
    """CPU of the shop's own processes: the gateway, the services and their backends."""
    return window["cpu_gateway_ms"] + window["cpu_services_ms"] + window["cpu_pg_backends_ms"]


def _knockouts(windows):
    """Per revision less one change: what its absence costs, against this tree, run by run."""
    named = sorted({w["variant"] for w in windows} - {"baseline", "ours"})
    if not named:
        return None
    windows = per_run(windows)
    kinds = _kinds(windows)
    lines = [
        "**What each change saves: this tree less that change, minus this tree**"
        " (CPU ms per confirmed order or read, median of the runs' differences (min-max);"
        " the shop's own processes are the gateway, the services and their PostgreSQL backends,"
        " free of the other tenants' load on the broker and PostgreSQL)",
        "",
        "| without | "
        + " | ".join(
            f"{TITLES[k].split(' (')[0]}: {what}"
            for k in kinds
            for what in ("whole machine", "own processes")
        )
        + " |",
        "|---|" + "---:|" * (2 * len(kinds)),
    ]
    for name in named:
        cells = []
        for kind in kinds:
            runs = {}
            for w in windows:
                if w["kind"] == kind and w["variant"] in (name, "ours"):
                    runs.setdefault(w["run"], {})[w["variant"]] = w
            pairs = [r for r in runs.values() if len(r) == 2]
            for measure in (lambda w: w["cpu_total_ms"], _own_ms):
                cells.append(
                    _cell(_spread([measure(r[name]) - measure(r["ours"]) for r in pairs]))
                )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _kinds(windows):
    return list(dict.fromkeys(w["kind"] for w in windows))


def chart_bars(entry, floor):
    """CPU ms by part for each bar of one window: the variants' medians, and the floor,
    whose one script does the three services' work."""
    bars = {
        v: {c: entry[f"cpu_{c}_ms"][v]["median"] for c in COMPONENTS} | {FLOOR_SCRIPT: 0.0}
        for v in ("baseline", "ours")
        if v in entry["cpu_total_ms"]
    }
    if floor:
        bars["floor"] = {c: floor.get(f"cpu_{c}_ms", 0.0) for c in COMPONENTS} | {
            FLOOR_SCRIPT: floor["cpu_services_ms"]
        }
    return bars


def _chart(summary, floor, path):
    kinds = list(summary)
    figure, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4.5), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        bars = chart_bars(summary[kind], floor if kind.startswith("orders") else None)
        bottoms = [0.0] * len(bars)
        for component in STACKED:
            heights = [bars[v][component] for v in bars]
            ax.bar(list(bars), heights, bottom=bottoms, label=component)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        ax.set_title(TITLES[kind].replace("`", ""), fontsize=9)
        ax.set_ylabel("CPU ms (median of runs)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def command_line(meta):
    """The ``bench.order_path`` command that measured ``meta``'s trees, windows and runs."""
    command = "python -m bench.order_path"
    if set(meta.get("kinds", TITLES)) != set(TITLES):
        command = f"BENCH_KINDS={','.join(meta['kinds'])} {command}"
    if "baseline" in meta:
        command += f" --baseline {meta['baseline'][:7]}"
    for name, sha in meta.get("variants", {}).items():
        command += f" --variant {name}={sha[:7]}"
    if "runs" in meta:
        command += f" --runs {meta['runs']}"
    if not meta.get("floor", True):
        command += " --no-floor"
    return command


def write_report(windows, floor, meta, out):
    summary = summarize(windows)
    runs = len({w["run"] for w in windows})
    text = "\n\n".join(
        [
            f"`{command_line(meta)}` at {meta['ours'][:7]}"
            f"{' (and changes)' if meta['dirty'] else ''}:"
            f" median of {runs} runs (min-max), each run's windows A B B A and their mean"
            " (a run's latency percentiles: the mean of its two windows' own);"
            " CPU from /proc, per confirmed order or per read.",
            *(
                _table(kind, summary[kind], floor if kind == "orders_c32" else None)
                for kind in summary
            ),
            *filter(None, [_knockouts(windows)]),
        ]
    )
    (out / "order_path.md").write_text(text + "\n")
    (out / "order_path.json").write_text(
        json.dumps(
            {"meta": meta, "summary": summary, "floor": floor, "windows": windows}, indent=1
        )
    )
    _chart(summary, floor, out / "order_path.png")
    return text
