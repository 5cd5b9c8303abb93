"""``python -m bench``: every scenario, a table, ``bench/results/<date>.json`` and a chart.

The app runs under daphne pinned to core 0; the fake backend, the relay reference and
this load generator run on core 1. Needs PostgreSQL and Redis on loopback
(``./scripts/services.sh``). ``BENCH_SCALE=0.25`` runs a quicker, smaller pass;
``BENCH_ONLY=S1,S3`` picks scenarios.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import peer, scenarios
from bench.harness import (
    APP_CORE,
    LOAD_CORE,
    ROOT,
    app_env,
    bench_database,
    daphne_command,
    free_port,
    pin_self,
    process,
    raise_fd_limit,
)

RESULTS = ROOT / "bench" / "results"
SCENARIOS = {
    "S1": scenarios.s1_idle,
    "S2": scenarios.s2_load,
    "S2H": scenarios.s2_html,
    # Not a target: the load the figures for other implementations were taken at.
    "REF": scenarios.reference_load,
    "S3": scenarios.s3_fast,
    "S4": scenarios.s4_idle_and_churn,
    "S5": scenarios.s5_two_processes,
    "S6": scenarios.s6_long_chat,
    "S7": scenarios.s7_embedded,
    "S8": scenarios.s8_lore,
    "S9": scenarios.s9_fidelity,
    "S10": scenarios.s10_speech,
    "S11": scenarios.s11_scene,
    # Not a target: Open WebUI at REF's load, when OPEN_WEBUI_PYTHON points at it.
    "PEER": peer.openwebui,
}
TARGETS = [
    ("S1", "added_ttft_p50_ms", "<=", 3, "S1 added TTFT p50 (ms)"),
    ("S1", "added_ttft_p99_ms", "<=", 10, "S1 added TTFT p99 (ms)"),
    ("S2", "added_ttft_p50_ms", "<=", 15, "S2 added TTFT p50 (ms)"),
    ("S2", "added_ttft_p99_ms", "<=", 60, "S2 added TTFT p99 (ms)"),
    ("S2", "delivery_ratio_p50", ">=", 0.98, "S2 delivered / backend rate"),
    ("S3", "delivery_ratio_p50", ">=", 0.95, "S3 delivered / backend rate"),
    ("S3", "delivery_vs_relay_p50", ">=", 0.95, "S3 delivered / relay's, median of rounds"),
    ("S5", "viewer_delivery_ratio_p50", ">=", 0.95, "S5 delivered across processes"),
    ("S7", "ratio", ">=", 0.95, "S7 app / raw llama.cpp tokens/s"),
    ("S2", "cpu_ms_per_1000_tokens", "<=", 50, "S2 server CPU ms per 1,000 tokens"),
    # S2 as the browser page sees it (HTML fragments), with S2's targets.
    ("S2H", "added_ttft_p50_ms", "<=", 15, "S2H page added TTFT p50 (ms)"),
    ("S2H", "delivery_ratio_p50", ">=", 0.98, "S2H page delivered / backend rate"),
    ("S2H", "cpu_ms_per_1000_tokens", "<=", 50, "S2H page server CPU ms per 1,000 tokens"),
    ("S4", "kb_per_idle_connection", "<=", 40, "S4 KB per idle connection"),
    ("S2", "rss_per_active_stream_kb", "<=", 256, "S2 KB per active stream"),
    ("S4", "growth_after_churn_pct", "<", 5, "S4 memory growth after churn (%)"),
    ("S2", "frames_per_s_per_stream", "<=", 30, "S2 frames/s per stream"),
    ("S2", "db_turn_writes", "<=", 3, "S2 DB message writes per turn"),
    ("S2", "db_flushes_per_reply_second", "<=", 1, "S2 DB flushes per streaming second"),
    ("S2", "wrong_texts", "==", 0, "S2 replies differing from the backend"),
    ("S6", "long_chat_page_p50_ms", "<", 50, "S6 page of 10,000 messages, server (ms)"),
    ("S8", "lore_added_p50_ms", "<=", 5, "S8 lore added to a turn's prompt, p50 (ms)"),
    ("S9", "distinct_4gram_ratio_mean", ">=", 0.9, "S9 embedded replies' distinct 4-gram ratio"),
    ("S11", "handoff_added_p50_ms", "<=", 20, "S11 scene hand-off to the next speaker, p50 (ms)"),
]


async def run(selected: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    backend_port, relay_port, app_port = free_port(), free_port(), free_port()
    backend_url = f"http://127.0.0.1:{backend_port}/v1"
    with (
        bench_database() as database_url,
        process(
            [sys.executable, "-m", "bench.fake_backend", "--port", str(backend_port)],
            backend_port,
            dict(os.environ),
            LOAD_CORE,
        ),
        process(
            [
                sys.executable,
                "-m",
                "bench.relay",
                "--port",
                str(relay_port),
                "--backend",
                backend_url,
            ],
            relay_port,
            dict(os.environ),
            APP_CORE,
        ),
        process(
            daphne_command(app_port), app_port, app_env(database_url, backend_url), APP_CORE
        ) as app,
    ):
        ctx = {
            "app": f"127.0.0.1:{app_port}",
            "app_pid": app.pid,
            "relay": f"127.0.0.1:{relay_port}",
            "backend_port": backend_port,
            "backend_url": backend_url,
            "database_url": database_url,
        }
        for name in selected:
            print(f"running {name}: {SCENARIOS[name].__doc__}", flush=True)
            started = time.perf_counter()
            results[name] = await SCENARIOS[name](ctx)
            results[name]["elapsed_s"] = round(time.perf_counter() - started, 1)
            print(json.dumps(results[name], indent=1), flush=True)
    return results


def verdicts(results: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    rows = []
    for scenario, key, op, bound, label in TARGETS:
        if key not in results.get(scenario, {}):
            continue  # not run (BENCH_ONLY), or from an older run without this figure
        value = float(results[scenario][key])
        ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, "==": value == bound}[
            op
        ]
        rows.append((label, value, f"{op} {bound}", ok))
    return rows


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [
        (1, results.get("S1"), "S1"),
        (20, results.get("S3"), "S3"),
        (200, results.get("S2"), "S2"),
    ]
    points = [(n, r, label) for n, r, label in points if r]
    if len(points) < 2:
        return  # a chart needs at least two concurrency levels
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [n for n, _, _ in points]
    for key, style in (("app_ttft", "-o"), ("relay_ttft", "--s"), ("direct_ttft", ":^")):
        left.plot(
            xs, [r[key]["p50_ms"] for _, r, _ in points], style, label=f"{key.split('_')[0]} p50"
        )
        left.plot(
            xs,
            [r[key]["p99_ms"] for _, r, _ in points],
            style,
            alpha=0.5,
            label=f"{key.split('_')[0]} p99",
        )
    left.set(
        xscale="log", xlabel="concurrent streams", ylabel="TTFT (ms)", title="Time to first token"
    )
    left.legend(fontsize=7)
    ratios = [(n, r) for n, r, label in points if "delivery_ratio_p50" in r]
    right.plot(
        [n for n, _ in ratios],
        [r["delivery_ratio_p50"] for _, r in ratios],
        "-o",
        label="Stormchat",
    )
    right.plot(
        [n for n, _ in ratios],
        [r["relay_delivery_ratio_p50"] for _, r in ratios],
        "--s",
        label="websockets relay",
    )
    right.axhline(0.98, color="grey", linewidth=0.5)
    right.set(
        xscale="log",
        xlabel="concurrent streams",
        ylabel="delivered / backend rate",
        title="Delivery ratio",
        ylim=(0.8, 1.05),
    )
    # Label the measured concurrency levels only (log axes crowd minor ticks together).
    for axes in (left, right):
        axes.set_xticks([n for n, _, _ in points], [str(n) for n, _, _ in points])
        axes.minorticks_off()
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    raise_fd_limit()
    pin_self()
    RESULTS.mkdir(parents=True, exist_ok=True)
    selected = [s for s in os.environ.get("BENCH_ONLY", ",".join(SCENARIOS)).split(",") if s]
    stamp = datetime.date.today().isoformat()
    results = asyncio.run(run(selected))
    earlier = RESULTS / f"{stamp}.json"
    if earlier.exists() and set(selected) != set(SCENARIOS):
        # A partial run (BENCH_ONLY) updates today's results instead of replacing them.
        results = json.loads(earlier.read_text())["results"] | results
    rows = verdicts(results)
    print("\n{:<44} {:>12} {:>10}  {}".format("figure", "measured", "target", "met"))
    for label, value, target, ok in rows:
        print(f"{label:<44} {value:>12.2f} {target:>10}  {'yes' if ok else 'NO'}")
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    document = {
        "date": stamp,
        "machine": machine,
        "scale": scenarios.SCALE,
        "results": results,
        "targets": [{"figure": r[0], "value": r[1], "target": r[2], "met": r[3]} for r in rows],
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(document, indent=1))
    chart(results, RESULTS / f"{stamp}.png")
    print(f"\nwrote {RESULTS / (stamp + '.json')} and {RESULTS / (stamp + '.png')}")


if __name__ == "__main__":
    main()
