"""The Airflow UI in a real browser, as a person following the example pipeline sees it.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which scripts/test.sh installs),
driven by selenium, on a live stack (``Stack`` of tests/support/live_stack.py) whose DAGs folder is
example_dags/, against the emulator. The tests save screenshots: into the session's temporary
directory, or into ``$UI_SCREENSHOTS`` when set (``UI_SCREENSHOTS=docs/img/ui`` refreshes the docs').

Marked ``live`` and ``browser``. Without chromium the tests are skipped, except in CI (``CI`` set),
where the test script must have installed it.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import ROOT
from tests.support.browser import chromium, find, screenshot_folder, shown, skip_without_chromium, snap, text
from tests.support.live_stack import Stack, wait_until
from tests.support.postgres import PostgresCluster

pytestmark = [pytest.mark.live, pytest.mark.browser]
EXAMPLES = ROOT / "example_dags"
DAG_ID = "example_compress_pipeline"
CONSOLE = "https://bailian.console.aliyun.com"  # the emulator's host is no region: the default
LINKS = {
    "fine_tune": ("Fine-tune job", "job_id", "/?tab=model#/efm/model_manager?job_id={}"),
    "compress": ("Compression job", "job_id", "/?tab=model#/model-compression/{}"),
    "deploy": ("Deployment", "deployed_model", "/?tab=model#/efm/model_deploy?deployed_model={}"),
}

skip_without_chromium()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return screenshot_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-airflow")
    # Stages long enough to look at while they run; the example polls every 5 s.
    with (
        PostgresCluster() as db,
        EmulatorProcess(job_seconds=30, deploy_seconds=6, log_lines=8, cancel_seconds=1) as emulator,
        Stack.up(home, db, emulator, dags=EXAMPLES, dag_ids=(DAG_ID,)) as live,
    ):
        yield live


@pytest.fixture(scope="module")
def runs(stack, tmp_path_factory) -> dict[str, str]:
    """Two runs of the example pipeline, started together: a good one, and one whose training
    data (not JSON lines) the fine-tune rejects."""
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    bad_data = tmp_path_factory.mktemp("bad-data") / "train.jsonl"
    bad_data.write_text("not JSON lines\n")

    def start(conf: dict) -> str:
        run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        return run.json()["dag_run_id"]

    return {"good": start({}), "bad_data": start({"training_data": str(bad_data)})}


@pytest.fixture(scope="module")
def browser(stack):
    """Chromium with a new empty profile, logged in through the login form."""
    with chromium(stack) as driver:
        yield driver


def task_page(stack: Stack, run_id: str, task_id: str, tab: str = "") -> str:
    return f"{stack.url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{task_id}{tab}"


def scroll_to(driver, words: str) -> None:
    """Bring the shortest line showing ``words`` into view, scrolled to its start (for the screenshot)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.XPATH, f"//*[contains(text(), {json.dumps(words)})]")
    if found:
        line = min(found, key=lambda element: len(element.get_attribute("textContent") or ""))
        driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});"
            "for (let e = arguments[0]; e; e = e.parentElement) e.scrollLeft = 0;",
            line,
        )


def test_a_person_logs_in(stack, browser):
    browser.get(stack.url)
    wait_until(lambda: "Welcome" in text(browser), 30, "the home page")
    assert "/auth/login" not in browser.current_url  # the session holds: no second login


def test_the_logs_tab_shows_forwarded_lines_while_compress_is_deferred(stack, runs, browser, shots):
    run_id = runs["good"]
    job_id = wait_until(lambda: stack.xcom(DAG_ID, run_id, "job_id"), 120, "the compression job")
    wait_until(lambda: stack.ti(DAG_ID, run_id)["state"] == "deferred", 60, "compress to defer")
    first = f"[{job_id} #1]"
    shown(browser, task_page(stack, run_id, "compress"), lambda d: first in text(d), 60, "forwarded lines")
    assert stack.ti(DAG_ID, run_id)["state"] == "deferred"  # seen while it waits in the triggerer
    page = text(browser)
    assert "Deferred" in page and f"[{job_id} #2]" in page
    snap(browser, shots / "logs-deferred.png")


def test_each_stage_links_to_its_console_in_the_details_tab(stack, runs, browser, shots):
    from selenium.webdriver.common.by import By

    run_id = runs["good"]
    wait_until(lambda: stack.ti(DAG_ID, run_id, "deploy")["state"] == "success", 180, "the pipeline")
    for task_id, (name, key, page) in LINKS.items():
        remote_id = stack.xcom(DAG_ID, run_id, key, task_id)

        def link(driver, name=name):
            return driver.find_elements(By.LINK_TEXT, name)

        shown(browser, task_page(stack, run_id, task_id, "/details"), link, 30, f"the {name!r} link")
        (anchor,) = link(browser)
        assert anchor.get_attribute("href") == CONSOLE + page.format(remote_id)
        assert anchor.is_displayed()
        snap(browser, shots / f"details-{task_id}.png")


def test_the_connection_form_of_type_dashscope(stack, browser, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def add_button(driver):
        return driver.find_elements(By.XPATH, "//button[normalize-space()='Add Connection']")

    shown(browser, f"{stack.url}/connections", add_button, 30, "the connections page")
    add_button(browser)[0].click()
    dialog = find(browser, By.CSS_SELECTOR, "[role=dialog]")
    kind = find(dialog, By.CSS_SELECTOR, "input[role=combobox]")
    kind.send_keys("dashscope")
    find(browser, By.CSS_SELECTOR, "[role=option]")
    kind.send_keys(Keys.ENTER)

    def labels() -> list[str]:
        return [label.text.strip() for label in dialog.find_elements(By.TAG_NAME, "label") if label.text]

    wait_until(lambda: "Base URL" in labels(), 30, "the standard fields")
    standard = labels()
    assert {"Base URL", "API Key"} <= set(standard)
    assert not {"Host", "Login", "Password", "Port", "Schema"} & set(standard)  # relabelled or hidden
    snap(browser, shots / "connection-form.png")
    find(dialog, By.XPATH, ".//*[normalize-space()='Extra Fields']").click()
    wait_until(lambda: "Workspace ID" in labels(), 30, "the extra fields")
    assert {"Workspace ID", "Language", "Console URL: deployment"} <= set(labels())


def test_a_failed_job_shows_its_error_in_the_task_log(stack, runs, browser, shots):
    run_id = runs["bad_data"]
    wait_until(lambda: stack.ti(DAG_ID, run_id, "fine_tune")["state"] == "failed", 120, "fine_tune to fail")
    job_id = stack.xcom(DAG_ID, run_id, "job_id", "fine_tune")
    job = stack.emulator.state()["fine_tunes"][job_id]
    error = f"fine-tune job {job_id} failed: {job['code']}: {job['message']}"
    shown(browser, task_page(stack, run_id, "fine_tune"), lambda d: error in text(d), 60, "the job's error")
    assert "training data check failed" in text(browser)  # the job's own last log line, forwarded
    scroll_to(browser, error)
    snap(browser, shots / "failed-log.png")
