"""DAG-parse cost: what importing the provider's operators and sensor adds to a DAG file's imports.

Each sample is a fresh interpreter that imports ``from airflow.sdk import DAG, BaseOperator,
BaseSensorOperator, BaseHook`` and then times the provider's operator and sensor modules; the
report gives the median of the samples (JSON). Target: at most 50 ms.

    python benchmarks/import_cost.py --samples 11 --output import_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import sys, time
from airflow.sdk import DAG, BaseOperator, BaseSensorOperator, BaseHook
started = time.perf_counter()
import airflow_provider_compress.operators.compress
import airflow_provider_compress.operators.finetune
import airflow_provider_compress.operators.deployment
import airflow_provider_compress.sensors.compress
added = time.perf_counter() - started
heavy = sorted(m for m in ("aiohttp", "requests") if m in sys.modules)
print(added, ",".join(heavy))
"""
TARGET_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=11)
    parser.add_argument("--output")
    args = parser.parse_args()
    samples, loaded = [], ""
    for _ in range(args.samples):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        seconds, loaded = [*out.split(), ""][:2]
        samples.append(float(seconds) * 1000)
    median = statistics.median(samples)
    report = {
        "samples": args.samples,
        "added_ms_median": round(median, 1),
        "added_ms_min": round(min(samples), 1),
        "added_ms_max": round(max(samples), 1),
        "target_ms": TARGET_MS,
        "within_target": median <= TARGET_MS,
        "already_loaded_heavy_modules": loaded.split(",") if loaded else [],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out_file:
            out_file.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
