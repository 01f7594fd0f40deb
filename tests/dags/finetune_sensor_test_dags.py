"""FineTuneJobSensor DAGs that tests/airflow/test_dags.py runs with `airflow dags test`.

Each sensor watches a job of its own, so that the lines each one forwarded can be told apart in
the run's output. The jobs on the ``dashscope_slow`` connection (set by the test) run for minutes:
the sensor watching one times out while it runs.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.sensors.finetune import FineTuneJobSensor

COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}


def job_id_of(task_id: str) -> str:
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}', key='job_id') }}}}"


with DAG("test_finetune_sensor", **COMMON):
    previous = None
    for mode, conn_id, extra in (
        ("poke", "dashscope_default", {"mode": "poke"}),
        ("deferred", "dashscope_default", {"deferrable": True}),
        ("timeout", "dashscope_slow", {"mode": "poke", "timeout": 3}),
    ):
        start = CreateFineTuneJobOperator(
            task_id=f"start_{mode}",
            dashscope_conn_id=conn_id,
            model="qwen3.5-flash-2026-02-23",
            training_file_ids=[f"file-{mode}"],
            training_type="sft",
            wait_for_completion=False,
        )
        sensor = FineTuneJobSensor(
            task_id=mode,
            dashscope_conn_id=conn_id,
            job_id=job_id_of(f"start_{mode}"),
            poke_interval=1,
            **extra,
        )
        # One after the other: each sensor starts right after its job, while the job runs.
        if previous is not None:
            previous >> start
        start >> sensor
        previous = sensor
