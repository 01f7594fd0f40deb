"""Every hour: find the jobs and deployments the provider started that nothing in Airflow accounts
for any more, and report each with its cost. A dry run unless triggered with ``{"dry_run": false}``,
which stops them too (a job cancelled, a deployment deleted).

Needs a connection to Airflow's REST API, ``airflow_api``: the api-server's URL as host, and the
login and password of a user that may read every DAG (docs/operations.md#orphaned-work).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param

from airflow_provider_compress.operators.orphans import StopOrphanedWorkOperator

with DAG(
    dag_id="example_orphaned_work",
    schedule="@hourly",
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "dashscope"],
    params={
        "dry_run": Param(True, type="boolean"),
        "dashscope_conn_ids": Param(["dashscope_default"], type="array"),
        "min_age": Param(600, type="integer", minimum=0),  # seconds: younger work is left out
    },
    render_template_as_native_obj=True,
) as dag:
    # [START howto_operator_orphans]
    StopOrphanedWorkOperator(
        task_id="orphaned_work",
        airflow_conn_id="airflow_api",
        dashscope_conn_ids="{{ params.dashscope_conn_ids }}",
        dry_run="{{ params.dry_run }}",
        min_age="{{ params.min_age }}",
    )
    # [END howto_operator_orphans]
