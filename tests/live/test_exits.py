"""The exits of a wait that Airflow drives, on a live stack (tests/support/live_stack.py):
Airflow's ``execution_timeout`` and a DAG run's ``dagrun_timeout`` while a task is deferred
(Airflow enforces neither on a deferred task by itself). The table of every exit:
docs/exits.md."""

from __future__ import annotations

import pytest

from tests.support.live_stack import wait_until

pytestmark = pytest.mark.live


def test_execution_timeout_of_a_deferred_task_cancels_its_job_and_fails_the_task(stack):
    dag_id = "exit_execution_timeout_deferred"
    run_id = stack.trigger(dag_id)
    job_id = wait_until(lambda: stack.xcom(dag_id, run_id, "job_id"), 60, "the job id in XCom")
    wait_until(lambda: stack.ti(dag_id, run_id)["state"] == "deferred", 60, "the task to defer")
    # 20 s of execution_timeout, 60 s jobs: the task fails and its job is cancelled long before it ends
    ti = wait_until(
        lambda: (t := stack.ti(dag_id, run_id))["state"] == "failed" and t, 90, "the task to fail"
    )
    assert stack.slow.job(job_id)["status"] in ("CANCELING", "CANCELED")
    assert "execution_timeout" in stack.task_log(dag_id, run_id, ti["try_number"])
