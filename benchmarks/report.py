"""Write the figures of docs/performance.md from benchmarks/results/, so that the page never says
what the JSON does not.

The page holds blocks between ``<!-- report: NAME -->`` and ``<!-- /report -->``; each is rendered
here from the results files. ``--check`` (run by the docs tests) fails when a block differs from
what the results say; ``--write`` rewrites the blocks.

    python benchmarks/report.py --write docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
BLOCK = re.compile(r"(<!-- report: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /report -->)", re.S)


def load(name: str) -> Any:
    return json.loads((RESULTS / name).read_text())


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}" if digits else f"{value:,.0f}"


def span(values: list[float], digits: int = 1, unit: str = "") -> str:
    """``low-high`` of the values (one value alone when they agree)."""
    low, high = num(min(values), digits), num(max(values), digits)
    return f"{low}{unit}" if low == high else f"{low}-{high}{unit}"


# --- triggerer_scale.py -------------------------------------------------------------------------

SCALE_HEADER = (
    "| run | CPU ms/request, provider (floor) | ratio (<= 1.3) | RSS KiB/trigger (<= 30) "
    "| loop lag p99 (floor), max ms (<= 50) | full GCs: count, longest ms "
    "| event delay p50 / p99 (floor p99) ms (<= poll + 100) | requests/poll before, after "
    "| events | task logs exact |\n" + "| --- " * 10 + "|\n"
)


def full_gcs(steady: dict[str, Any]) -> tuple[int, float]:
    pauses = steady["loop_lag_ms"].get("gc_pauses_over_5ms", {}).get("2", {})
    return pauses.get("count", 0), pauses.get("max_ms", 0.0)


def scale_row(label: str, run: dict[str, Any]) -> str:
    provider, floor = run["provider"], run["floor"]
    ps, fs = provider["steady"], floor["steady"]
    gcs, longest = full_gcs(ps)
    floor_gcs, floor_longest = full_gcs(fs)
    per_poll = provider["requests_per_poll"]
    cells = [
        label,
        f"{ps['runner_cpu_ms_per_request']:.3f} ({fs['runner_cpu_ms_per_request']:.3f})",
        f"{run['cpu_ratio_to_floor']:.2f}",
        num(ps["rss_per_trigger_kib"]),
        f"{num(ps['loop_lag_ms']['p99'])} ({num(fs['loop_lag_ms']['p99'])}), "
        f"{num(ps['loop_lag_ms']['max'], 0)}",
        f"{gcs}, {num(longest, 0)} (floor {floor_gcs}, {num(floor_longest, 0)})",
        f"{num(provider['event_delay_ms']['p50'], 0)} / {num(provider['event_delay_ms']['p99'], 0)}"
        f" ({num(floor['event_delay_ms']['p99'], 0)})",
        f"{per_poll['before_start']}, {per_poll['after_start']}",
        f"{provider['events']}, {floor['events']}",
        provider.get("logs_exact") or "n/a",
    ]
    return "| " + " | ".join(cells) + " |\n"


def scale_table(*sources: tuple[str, str]) -> str:
    """A row per run of each (results file, row label)."""
    rows = []
    for name, label in sources:
        runs = load(name)["runs"]
        for index, run in enumerate(runs, 1):
            rows.append(scale_row(f"{label} {index}" if len(runs) > 1 else label, run))
    return SCALE_HEADER + "".join(rows)


def scale_met(name: str) -> str:
    """Which target each run met: a line per target, the runs that met it."""
    runs = load(name)["runs"]
    lines = []
    for target in runs[0]["targets_met"]:
        met = sum(bool(run["targets_met"][target]) for run in runs)
        lines.append(f"- `{target}`: met in {met} of {len(runs)} runs\n")
    return "".join(lines)


def whole_phase_table(*sources: tuple[str, str]) -> str:
    """A row per side of each (results file, label) run over its whole phase: comparable also for
    runs that never had a steady window (N = 5,000 before change 6)."""
    rows = [
        "| | requests | runner CPU ms/request | supervisor CPU ms/request | loop lag p99 / max ms "
        '| event delay p50 / p99 ms | longest heartbeat gap s | "deadlocked" warnings | events '
        "| task logs exact |\n",
        "| --- " * 10 + "|\n",
    ]
    for name, label in sources:
        (run,) = load(name)["runs"]
        for side in ("provider", "floor"):
            r, whole = run[side], run[side]["whole_phase"]
            rows.append(
                f"| {side}, {label} | {whole['requests']:,} | {whole['runner_cpu_ms_per_request']:.3f} "
                f"| {whole['supervisor_cpu_ms_per_request']:.3f} "
                f"| {num(whole['loop_lag_ms']['p99'], 0)} / {num(whole['loop_lag_ms']['max'], 0)} "
                f"| {num(r['event_delay_ms']['p50'], 0)} / {num(r['event_delay_ms']['p99'], 0)} "
                f"| {num(r['longest_heartbeat_gap_s'])} | {r['deadlock_warnings']} | {r['events']} "
                f"| {r.get('logs_exact') or 'n/a'} |\n"
            )
    return "".join(rows)


# --- log_throughput.py, soak.py, import_cost.py ---------------------------------------------------


def throughput_table() -> str:
    rows = [
        "| | lines/s into the task log | records | log requests | exact | loop lag p99 / max ms "
        '| "blocked" warnings | longest heartbeat gap s |\n',
        "| --- " * 8 + "|\n",
    ]
    for label, name in (
        ("before, one core", "log-throughput-before-fix.json"),
        ("after, one core", "log-throughput-one-core.json"),
        ("after", "log-throughput-before-writer.json"),
        ("after change 6", "log-throughput.json"),
    ):
        r = load(name)
        lag = r["loop_lag_ms"]
        rows.append(
            f"| {label} | {r['lines_per_second']:,} | {r['records']:,} | {r['log_requests']} "
            f"| {'yes' if r['exact'] else 'NO'} | {num(lag['p99'])} / {num(lag['max'])} "
            f"| {r['blocked_warnings']} | {num(r['longest_heartbeat_gap_s'])} |\n"
        )
    return "".join(rows)


def summary_table() -> str:
    imports = {version: load(f"import-cost-{version}.json") for version in ("3.3", "3.1")}
    after, before = load("log-throughput.json"), load("log-throughput-before-fix.json")
    soak = load("soak-200.json")
    soak_met = soak["ok"] and not soak["duplicate_names"] and not soak["log_mismatches"]
    rows = [
        "| benchmark | target | measured |\n| --- | --- | --- |\n",
        "| `import_cost.py`: what the operators and sensor add to importing `airflow.sdk` "
        "(median of fresh processes) | <= 50 ms | "
        + ", ".join(f"{num(r['added_ms_median'])} ms on {v}" for v, r in imports.items())
        + " |\n",
        f"| `log_throughput.py`: a job with {after['lines']:,} lines forwarded through Airflow's "
        "triggerer into the task log | none lost or repeated, a log request per 1,000 lines, "
        f"the triggerer healthy | {'exact' if after['exact'] else 'NOT exact'}, "
        f"{after['log_requests']} requests, {after['records']} records, "
        f"{after['lines_per_second']:,} lines/s, loop lag p99 {num(after['loop_lag_ms']['p99'])} ms "
        f"(before the fix: {before['lines_per_second']:,} lines/s, p99 "
        f"{num(before['loop_lag_ms']['p99'], 0)} ms) |\n",
        f"| `soak.py`: {soak['jobs']} jobs under {soak['fault_rate']:.0%} mixed faults | true end "
        f"states, 0 duplicates, every line once | {'all met' if soak_met else 'NOT met'}; "
        f"{num(soak['seconds'])} s, {soak['requests']:,} requests, {soak['retries']} retries |\n",
        "| `triggerer_scale.py`: N deferred tasks in Airflow's triggerer, against a floor "
        "trigger in the same one | see below | see below |\n",
    ]
    return "".join(rows)


BLOCKS: dict[str, Callable[[], str]] = {
    "summary": summary_table,
    "scale-1000": lambda: scale_table(("triggerer-scale-1000.json", "run")),
    "scale-1000-met": lambda: scale_met("triggerer-scale-1000.json"),
    "scale-1000-change-6": lambda: scale_table(
        ("triggerer-scale-1000-before-writer.json", "before change 6, run"),
        ("triggerer-scale-1000-first-writer.json", "change 6, first version, run"),
        ("triggerer-scale-1000-ab-before-writer.json", "A/B: before change 6"),
        ("triggerer-scale-1000-ab-after-writer.json", "A/B: after change 6"),
    ),
    "scale-1000-one-core": lambda: scale_table(("triggerer-scale-1000-one-core.json", "one core, run")),
    "scale-1000-before": lambda: scale_table(
        ("triggerer-scale-1000-before.json", "before, quiet"),
        ("triggerer-scale-1000-busy.json", "before, busy"),
        ("triggerer-scale-1000-supervisor-core1.json", "before, supervisor on core 1"),
    ),
    "scale-500": lambda: scale_table(("triggerer-scale-500.json", "500 @ 1 s, before")),
    "scale-5000": lambda: whole_phase_table(
        ("triggerer-scale-5000-before-writer.json", "before change 6"),
        ("triggerer-scale-5000.json", "after change 6"),
    ),
    "scale-5000-steady": lambda: scale_table(
        ("triggerer-scale-5000.json", "5,000 @ 5 s, lines forwarded"),
        ("triggerer-scale-5000-no-logs.json", "5,000 @ 5 s, no log lines"),
        ("triggerer-scale-5000-one-core-no-logs.json", "5,000 @ 5 s, no log lines, one core, before"),
    ),
    "throughput": throughput_table,
}


def render(page: str) -> str:
    """The page with every block rendered from the results."""

    def block(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise KeyError(f"unknown report block {name!r}; known: {sorted(BLOCKS)}")
        return f"{match[1]}{BLOCKS[name]()}{match[4]}"

    return BLOCK.sub(block, page)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("page", type=Path)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="fail when a block differs from the results")
    action.add_argument("--write", action="store_true", help="rewrite the blocks from the results")
    args = parser.parse_args()
    page = args.page.read_text()
    rendered = render(page)
    if args.write:
        args.page.write_text(rendered)
        return 0
    if rendered != page:
        print(f"{args.page}: figures differ from benchmarks/results/; run benchmarks/report.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
