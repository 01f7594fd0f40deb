"""The platform team's view of a live stack: the "Model Studio" page and its API, who may see what,
the orphan operator, and the provider's metrics from a real triggerer.

One stack (``Stack`` of tests/support/live_stack.py: api-server, scheduler, dag-processor,
triggerers, PostgreSQL) on tests/operations_dags and example_orphaned_work.py, against two
emulators whose jobs outlast the module: ``dashscope_default``, looked at through the page and
its API, and ``dashscope_slow``, where the orphan operator stops what it finds. On each: a job a
deferred task owns, an orphan made on purpose (created without waiting, its run over), and a job
made by hand (as in the console); on the first, a deployment kept serving. The user ``outsider``
may not read the DAG ``ops_owned`` (tests/support/auth_manager.py). Statsd points at a UDP socket
of the test's. The page's screenshot is ``model-studio.png`` (``UI_SCREENSHOTS``: docs/ui.md).

Marked ``live`` and ``browser``: without chromium the module is skipped, except in CI.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import ROOT, RawClient, raw_create
from tests.support.browser import chromium, password, screenshot_folder, shown, skip_without_chromium, snap
from tests.support.live_stack import Stack, wait_until
from tests.support.postgres import PostgresCluster
from tests.support.statsd import StatsdListener

pytestmark = [pytest.mark.live, pytest.mark.browser]
ORPHANS = "example_orphaned_work"
DOOMED = "ops_doomed"  # a DAG deleted, file and all, after its task made a job
DOOMED_DAG = f"""
import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator

with DAG("{DOOMED}", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False):
    CreateCompressJobOperator(
        task_id="start",
        model="qwen3.5-flash-2026-02-23-ft-202604010000-a1b2",
        template_id="quant-flash-nvfp4-mlp-nomtp",
        wait_for_completion=False,
    )
"""
DAG_IDS = (
    DOOMED,
    "ops_owned",
    "ops_orphan_maker",
    "ops_serving",
    "ops_owned_elsewhere",
    "ops_orphan_maker_elsewhere",
    ORPHANS,
)
PAGE = "plugin/model-studio"

skip_without_chromium()


@pytest.fixture(scope="module")
def dags(tmp_path_factory):
    """The test DAGs and the orphan operator's example, side by side."""
    folder = tmp_path_factory.mktemp("operations-dags")
    for source in (ROOT / "tests/operations_dags/operations_dags.py", ROOT / f"example_dags/{ORPHANS}.py"):
        (folder / source.name).symlink_to(source)
    (folder / f"{DOOMED}.py").write_text(DOOMED_DAG)
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory, dags):
    home = tmp_path_factory.mktemp("operations-airflow")
    with (
        PostgresCluster() as db,
        EmulatorProcess(
            job_seconds=900, start_seconds=4, deploy_seconds=2, log_lines=300, usage_while_running=True
        ) as emulator,
        EmulatorProcess(job_seconds=900, start_seconds=4, log_lines=10) as elsewhere,
        StatsdListener() as statsd,
    ):
        env = {
            "PYTHONPATH": str(ROOT),  # the auth manager below
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.support.auth_manager.DagRestrictedAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
            "TESTS_HIDDEN_DAGS": "ops_owned",
            # No takeover between the two triggerers when one starves for a few seconds on a busy
            # machine: this module is not about takeovers, and its work must stay as its tasks left
            # it (seen on 3.3.2: the old owner of a deploy trigger, reading the task's state after
            # the new owner had finished the task, took "success" for a kill and deleted it).
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "120",
            **statsd.airflow_env(),
        }
        with Stack.up(home, db, emulator, slow=elsewhere, dags=dags, dag_ids=DAG_IDS, env=env) as live:
            live.statsd = statsd
            yield live


def start(stack: Stack, dag_id: str, **conf) -> str:
    stack.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    return stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}).json()[
        "dag_run_id"
    ]


def run_state(stack: Stack, dag_id: str, run_id: str) -> str:
    return stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]


@pytest.fixture(scope="module")
def work(stack) -> dict[str, dict]:
    """On each emulator: a job a deferred task owns, an orphan, a job made by hand; a deployment
    its task keeps serving on the first."""
    made: dict[str, dict] = {}
    for suffix, emulator in (("", stack.emulator), ("_elsewhere", stack.slow)):
        owned, orphaned = start(stack, f"ops_owned{suffix}"), start(stack, f"ops_orphan_maker{suffix}")
        by_hand = raw_create(RawClient(emulator), job_name="made-in-the-console")["job_id"]
        made[suffix or "default"] = {"owned_run": owned, "orphan_run": orphaned, "by_hand": by_hand}
    serving = start(stack, "ops_serving")
    for suffix, ids in (("", made["default"]), ("_elsewhere", made["_elsewhere"])):
        dag_id = f"ops_owned{suffix}"
        deferred = lambda d=dag_id, r=ids["owned_run"]: stack.ti(d, r)["state"] == "deferred"  # noqa: E731
        wait_until(deferred, 120, f"{dag_id} to defer")
        ids["owned"] = stack.xcom(dag_id, ids["owned_run"], "job_id")
        maker = f"ops_orphan_maker{suffix}"
        wait_until(lambda d=maker, r=ids["orphan_run"]: run_state(stack, d, r) == "success", 120, maker)
        ids["orphan"] = stack.xcom(maker, ids["orphan_run"], "job_id", task_id="start")
    wait_until(lambda: run_state(stack, "ops_serving", serving) == "success", 120, "the deployment")
    made["default"]["deployment"] = stack.xcom("ops_serving", serving, "deployed_model", task_id="deploy")
    return made


def token(stack: Stack, user: str) -> str:
    answer = requests.post(
        f"{stack.url}/auth/token", json={"username": user, "password": password(stack, user)}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def listed(stack: Stack, user: str) -> dict[str, dict]:
    """The rows of dashscope_default on the API of the page, as ``user`` gets them, by resource id."""
    headers = {"Authorization": f"Bearer {token(stack, user)}"}
    answer = requests.get(f"{stack.url}/dashscope/api/work", headers=headers, timeout=60)
    answer.raise_for_status()
    (section,) = [s for s in answer.json()["connections"] if s["conn_id"] == "dashscope_default"]
    return {row["resource_id"]: row for row in section["work"]}


def test_the_api_lists_each_unfinished_job_with_its_owner_or_orphaned(stack, work):
    ids, rows = work["default"], listed(stack, "admin")
    owned, orphan = rows[ids["owned"]], rows[ids["orphan"]]
    assert (owned["account"], owned["status"]) == ("owned", "RUNNING")
    assert owned["reason"] == "its task is deferred"
    assert owned["owner"]["dag_id"] == "ops_owned" and owned["owner"]["task_id"] == "compress"
    run_in_url = quote(ids["owned_run"], safe="")
    assert owned["owner"]["url"] == f"dags/ops_owned/runs/{run_in_url}/tasks/compress"  # its grid page
    assert owned["usage"]["unit"] == "GPU seconds" and owned["console_url"].endswith(ids["owned"])
    assert orphan["account"] == "orphaned" and orphan["owner"]["dag_id"] == "ops_orphan_maker"
    assert "nothing waits for it" in orphan["reason"]
    assert rows[ids["deployment"]]["account"] == "kept"
    by_hand = rows[ids["by_hand"]]
    assert by_hand["account"] == "not started by Airflow" and by_hand["owner"] is None


def test_the_page_is_in_the_navigation(stack):
    (plugin,) = [p for p in stack.api("GET", "/plugins").json()["plugins"] if p["name"] == "dashscope"]
    (page,) = plugin["react_apps"]
    assert (page["name"], page["destination"], page["url_route"]) == ("Model Studio", "nav", "model-studio")
    script = requests.get(stack.url + page["bundle_url"], timeout=30)
    assert script.ok and "globalThis.AirflowPlugin" in script.text


def test_a_user_without_access_to_a_dag_does_not_see_its_jobs(stack, work):
    ids, rows = work["default"], listed(stack, "outsider")
    assert ids["owned"] not in rows  # ops_owned is not theirs to read
    assert rows[ids["orphan"]]["account"] == "orphaned" and ids["deployment"] in rows
    assert ids["by_hand"] not in rows  # no DAG's: for those who may read every DAG
    assert requests.get(f"{stack.url}/dashscope/api/work", timeout=30).status_code == 401


def test_the_work_of_a_deleted_dag_is_orphaned_and_shown_to_who_may_read_every_dag(stack, dags):
    run_id = start(stack, DOOMED)
    wait_until(lambda: run_state(stack, DOOMED, run_id) == "success", 120, DOOMED)
    job_id = stack.xcom(DOOMED, run_id, "job_id", task_id="start")
    (dags / f"{DOOMED}.py").unlink()
    stack.api("DELETE", f"/dags/{DOOMED}")  # its runs, task instances and XComs with it
    orphan = listed(stack, "admin")[job_id]
    assert orphan["account"] == "orphaned" and orphan["proof"] == "description"
    assert orphan["owner"]["dag_id"] == DOOMED and "no longer exists" in orphan["reason"]
    assert job_id not in listed(stack, "outsider")  # no DAG of theirs any more


def test_the_model_studio_page_shows_the_owner_and_the_orphan(stack, work, tmp_path_factory):
    ids = work["default"]
    with chromium(stack) as browser:
        from selenium.webdriver.common.by import By

        def both(driver):
            found = driver.find_elements(By.CSS_SELECTOR, "tr[data-resource]")
            rows = {row.get_attribute("data-resource"): row.text for row in found}
            return ids["owned"] in rows and ids["orphan"] in rows and rows

        rows = shown(browser, f"{stack.url}/{PAGE}", both, 90, "the owned job and the orphan")
        assert "ops_owned / compress" in rows[ids["owned"]] and "owned" in rows[ids["owned"]]
        assert "ops_orphan_maker / start" in rows[ids["orphan"]] and "orphaned" in rows[ids["orphan"]]
        snap(browser, screenshot_folder(tmp_path_factory) / "model-studio.png")


def test_the_orphan_operator_reports_then_stops_only_the_orphan(stack, work):
    ids, emulator = work["_elsewhere"], stack.slow
    stack.api(
        "POST",
        "/connections",
        json={
            "connection_id": "airflow_api",
            "conn_type": "http",
            "host": stack.url,
            "login": "admin",
            "password": password(stack),
        },
    )
    conf = {"dashscope_conn_ids": ["dashscope_slow"], "min_age": 0}
    report = run_orphans(stack, dry_run=True, **conf)
    found = [(entry["resource_id"], (entry["owner"] or {}).get("dag_id")) for entry in report]
    assert found == [(ids["orphan"], "ops_orphan_maker_elsewhere")]
    assert report[0]["usage"] is None  # this emulator reports usage only at the end, as the API
    assert "stopped" not in report[0] and emulator.job(ids["orphan"])["status"] == "RUNNING"
    (stopped,) = run_orphans(stack, dry_run=False, **conf)
    assert stopped["resource_id"] == ids["orphan"] and stopped["stopped"] is True
    assert emulator.job(ids["orphan"])["status"] in ("CANCELING", "CANCELED")
    for untouched in (ids["owned"], ids["by_hand"]):  # a task's, and one made by hand
        assert emulator.job(untouched)["status"] == "RUNNING"
    assert stack.statsd.counts("airflow.dashscope.compress.stopped.orphaned") == {
        "airflow.dashscope.compress.stopped.orphaned": 1
    }


def run_orphans(stack: Stack, **conf) -> list[dict]:
    run_id = start(stack, ORPHANS, **conf)
    wait_until(lambda: run_state(stack, ORPHANS, run_id) in ("success", "failed"), 120, "the orphan check")
    assert run_state(stack, ORPHANS, run_id) == "success"
    return stack.xcom(ORPHANS, run_id, "return_value", task_id="orphaned_work")


def test_the_triggerer_and_the_worker_emit_the_providers_metrics(stack, work):
    """Metrics of a real triggerer process (the deployment's event, the owned jobs' lines) and of
    the workers (what they created)."""
    statsd = stack.statsd
    event = "airflow.dashscope.deployment.event_delay"
    wait_until(lambda: statsd.timings(event), 60, "the triggerer's event")
    wait_until(lambda: statsd.counts("airflow.dashscope.compress.log_lines"), 60, "forwarded lines")
    counts = statsd.counts("airflow.dashscope.")
    by_tasks = [  # every job but those made by hand
        job
        for emulator in (stack.emulator, stack.slow)
        for job in emulator.state()["jobs"].values()
        if job["job_name"] != "made-in-the-console"
    ]
    assert counts["airflow.dashscope.compress.created"] == len(by_tasks) >= 4  # two owned, two orphans
    assert counts["airflow.dashscope.deployment.created"] == len(stack.emulator.state()["deployments"]) == 1
    assert counts["airflow.dashscope.deployment.ended.RUNNING"] == 1
