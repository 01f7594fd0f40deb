"""Compress a model against the local emulator with CompressHook, streaming the job's log live.

Run through scripts/demo.sh, which installs everything first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="compress-demo-airflow-"))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-w8a8-gptq"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job-seconds", type=float, default=12)
    parser.add_argument("--lang", default="en-US", choices=["zh-CN", "en-US"])
    args = parser.parse_args()

    with EmulatorProcess(job_seconds=args.job_seconds, log_lines=12) as emulator:
        print(f"emulator: {emulator.url}")
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(lang=args.lang)
        hook = CompressHook()
        template = hook.get_template(MODEL, TEMPLATE)
        assert template is not None
        print(f"template: {template.template_id} - {template.template_name}")
        job = hook.create_job(
            MODEL,
            TEMPLATE,
            job_name=f"demo-{int(time.time())}",
            hyper_parameters={"calib_seq_len": 2048},
            custom_calibration_file_ids=["file-demo-calibration"],
            output_model_suffix="demo",
        )
        print(f"job: {job.job_id} {job.status}")
        offset, status = 0, job.status
        while True:
            for line in hook.iter_logs(job.job_id, offset=offset):
                offset += 1
                print(f"  [{job.job_id} #{offset}] {line}")
            job = hook.get_job(job.job_id)
            if job.status != status:
                status = job.status
                print(f"job: {job.job_id} {status}")
            if job.is_terminal:
                break
            time.sleep(1)
        for line in hook.iter_logs(job.job_id, offset=offset):  # lines written with the end state
            offset += 1
            print(f"  [{job.job_id} #{offset}] {line}")
        if job.status != "SUCCEEDED":
            print(f"job ended {job.status}: {job.error}", file=sys.stderr)
            return 1
        print(f"compressed model: {job.quantized_output}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
