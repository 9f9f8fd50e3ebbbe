"""The benchmark's table (Markdown), raw numbers (JSON) and chart (PNG)."""

import json

import matplotlib

matplotlib.use("Agg")  # no display here
import matplotlib.pyplot as plt


def _table(results, concurrencies, gateways, labels):
    lines = [
        "| route | c | gateway | req/s | p50 ms | p99 ms | req/s vs Nameko @http |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for route in sorted({k[0] for k in results}):
        for c in concurrencies:
            native = results[(route, c, "nameko_http")]["rps"] or float("nan")
            for g in gateways:
                r = results[(route, c, g)]
                lines.append(
                    f"| {route} | {c} | {labels[g]} | {r['rps']:.0f} | {r['p50_ms']:.1f} "
                    f"| {r['p99_ms']:.1f} | {r['rps'] / native:.2f}x |"
                )
    return "\n".join(lines)


def _profile_table(profiles, labels):
    lines = [
        "| route | gateway | gateway CPU ms/req | services | broker | postgres | load gen |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (route, g), p in sorted(profiles.items()):
        lines.append(
            f"| {route} | {labels[g]} | {p['gateway_ms']:.2f} | {p['services_ms']:.2f} "
            f"| {p['broker_ms']:.2f} | {p['postgres_ms']:.2f} | {p['load_ms']:.2f} |"
        )
    return "\n".join(lines)


def _chart(results, concurrencies, gateways, labels, path):
    routes = sorted({k[0] for k in results})
    figure, axes = plt.subplots(2, len(routes), figsize=(6 * len(routes), 8), squeeze=False)
    for col, route in enumerate(routes):
        for g in gateways:
            rps = [results[(route, c, g)]["rps"] for c in concurrencies]
            p99 = [results[(route, c, g)]["p99_ms"] for c in concurrencies]
            axes[0][col].plot(concurrencies, rps, marker="o", label=labels[g])
            axes[1][col].plot(concurrencies, p99, marker="o", label=labels[g])
        axes[0][col].set_title(f"{route}: throughput")
        axes[0][col].set_ylabel("requests/s")
        axes[1][col].set_title(f"{route}: p99 latency")
        axes[1][col].set_ylabel("ms")
        for row in (0, 1):
            axes[row][col].set_xlabel("concurrent clients")
            axes[row][col].set_xscale("log", base=2)
            axes[row][col].set_xticks(concurrencies, [str(c) for c in concurrencies])
            axes[row][col].grid(alpha=0.3)
    axes[0][0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_report(results, profiles, out, concurrencies, gateways, labels, runs, seconds):
    table = _table(results, concurrencies, gateways, labels)
    profile = _profile_table(profiles, labels)
    text = (
        f"Median of {runs} runs of {seconds:g} s each per cell.\n\n{table}\n\n"
        f"CPU per request at concurrency 32 (last run):\n\n{profile}\n"
    )
    (out / "gateway_table.md").write_text(text)
    (out / "gateway_results.json").write_text(
        json.dumps(
            {
                "results": [
                    {"route": r, "c": c, "gateway": g, **v} for (r, c, g), v in results.items()
                ],
                "cpu_ms_per_request_c32": [
                    {"route": r, "gateway": g, **v} for (r, g), v in profiles.items()
                ],
            },
            indent=1,
        )
    )
    _chart(results, concurrencies, gateways, labels, out / "gateway.png")
    return text
