"""Plot ``triggerer_scale.py`` results: loop lag p99 and runner CPU per request against N, the
provider's triggers and the floor, in their steady windows (each point the median of the runs at
that size, the bar from the lowest to the highest run). Needs matplotlib (``pip install
.[bench]``): a benchmark tool, not a dependency of the provider.

    python benchmarks/plot.py benchmarks/results/triggerer-scale-*.json --output docs/img/triggerer-scale.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def figures(paths: list[Path]) -> dict[tuple[int, float, bool], dict[str, dict[str, list[float]]]]:
    """(N, poll interval, lines forwarded) -> provider/floor -> figure -> one value per run."""
    found: dict[tuple[int, float, bool], dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for path in paths:
        for run in json.loads(path.read_text())["runs"]:
            for kind in ("provider", "floor"):
                steady: dict[str, Any] | None = run[kind]["steady"]
                if steady:
                    key = (run["triggers"], run["poll_interval"], run.get("forward_logs", True))
                    point = found[key][kind]
                    point["lag_p99"].append(steady["loop_lag_ms"]["p99"])
                    point["cpu"].append(steady["runner_cpu_ms_per_request"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = figures(args.results)
    sizes = sorted(found)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = (("lag_p99", "event-loop lag p99 (ms)", 50), ("cpu", "runner CPU per API request (ms)", None))
    for ax, (figure, label, target) in zip(axes, panels, strict=True):
        for kind, colour in (("provider", "tab:blue"), ("floor", "tab:grey")):
            xs, ys, low, high = [], [], [], []
            for size in sizes:
                values = found[size][kind][figure]
                if values:
                    xs.append(size[0])
                    ys.append(statistics.median(values))
                    low.append(ys[-1] - min(values))
                    high.append(max(values) - ys[-1])
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=4, color=colour, label=kind)
        if target:
            ax.axhline(target, color="tab:red", linestyle="--", linewidth=1, label="target")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks([size[0] for size in sizes])
        ax.set_xticklabels(
            [f"{n:,}\n{poll:g} s polls" + ("" if logs else "\nno log lines") for n, poll, logs in sizes]
        )
        ax.set_xlabel("deferred tasks in one triggerer")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("CompressJobTrigger in Airflow's triggerer, against a floor trigger in the same one")
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
