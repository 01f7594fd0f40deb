"""The console links: every task with a remote resource has its link, to the region's console
(the connection's declared region, else its host's), a connection extra's pattern, and a pattern
that cannot be filled. The links real runs store: tests/airflow/test_links_and_lineage.py."""

from __future__ import annotations

import pytest
from airflow.sdk import BaseOperator

from airflow_provider_compress import regions
from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from airflow_provider_compress.operators.compress import (
    CancelCompressJobOperator,
    CreateCompressJobOperator,
    DeleteCompressJobOperator,
)
from airflow_provider_compress.operators.deployment import (
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator, ExportCheckpointOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor
from airflow_provider_compress.sensors.deployment import DeploymentSensor
from airflow_provider_compress.sensors.finetune import FineTuneJobSensor
from tests.support import INTERNATIONAL, MAINLAND, PAGES, settings_for
from tests.support.docs import public_classes


@pytest.mark.parametrize(
    ("base_url", "region"),
    [
        ("https://dashscope.aliyuncs.com", "cn-beijing"),
        ("https://dashscope-intl.aliyuncs.com/api/v1", "ap-southeast-1"),
        ("https://ws-123.cn-beijing.maas.aliyuncs.com", "cn-beijing"),
        ("https://ws-123.ap-southeast-1.maas.aliyuncs.com", "ap-southeast-1"),
        ("https://ws-123.us-east-1.maas.aliyuncs.com", "us-east-1"),
        ("http://127.0.0.1:8089", None),
        ("https://dashscope.aliyuncs.com.proxy.example", None),
    ],
)
def test_region_of_the_host(base_url, region):
    assert regions.region_of(base_url) == region


@pytest.mark.parametrize(
    ("host", "extra", "console"),
    [
        ("dashscope.aliyuncs.com", {}, MAINLAND),
        ("https://dashscope-intl.aliyuncs.com", {}, INTERNATIONAL),
        ("https://ws-1.ap-southeast-1.maas.aliyuncs.com", {}, INTERNATIONAL),
        ("https://ws-1.cn-beijing.maas.aliyuncs.com", {}, MAINLAND),
        ("https://gw.example.com", {}, MAINLAND),  # no region of its own: the API's default host's
        ("https://gw.example.com", {"region": "ap-southeast-1"}, INTERNATIONAL),  # declared
    ],
)
def test_each_link_opens_the_console_of_the_region(host, extra, console):
    links = (FineTuneJobLink(), CompressJobLink(), DeploymentLink())
    for link, page in zip(links, PAGES.values(), strict=True):
        assert link.url(settings_for(host, **extra), "x-1") == console + page.format("x-1")


# Every task that acts on a remote resource, the link to that resource, and its id's argument.
LINKED = [
    (CreateFineTuneJobOperator, FineTuneJobLink, None),
    (CreateCompressJobOperator, CompressJobLink, None),
    (DeployModelOperator, DeploymentLink, None),
    (FineTuneJobSensor, FineTuneJobLink, "job_id"),
    (CompressJobSensor, CompressJobLink, "job_id"),
    (DeploymentSensor, DeploymentLink, "deployed_model"),
    (ExportCheckpointOperator, FineTuneJobLink, "job_id"),
    (CancelCompressJobOperator, CompressJobLink, "job_id"),
    (DeleteCompressJobOperator, CompressJobLink, "job_id"),
    (ScaleDeploymentOperator, DeploymentLink, "deployed_model"),
    (DeleteDeploymentOperator, DeploymentLink, "deployed_model"),
]


def test_every_task_with_a_remote_resource_has_its_link():
    """Every public operator and sensor but the upload (the console has no page of a file) and the
    orphan operator (no one resource: its report names each orphan with its console link)."""
    tasks = [
        c for c in public_classes() if issubclass(c, BaseOperator) and not c.__name__.startswith("DashScope")
    ]
    assert sorted(c.__name__ for c in tasks) == sorted(
        [c.__name__ for c, _, _ in LINKED] + ["UploadFileOperator", "StopOrphanedWorkOperator"]
    )
    for task, link, _ in LINKED:
        assert [type(x) for x in task.operator_extra_links] == [link], task


@pytest.mark.parametrize(
    ("task", "link", "field"), [row for row in LINKED if row[2]], ids=lambda x: getattr(x, "__name__", x)
)
def test_a_task_given_the_resource_stores_its_link_before_it_runs(monkeypatch, conn, task, link, field):
    """On a reverse proxy that declares the international region: that region's console."""
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", conn.connection_json(region="ap-southeast-1"))
    pushed = {}

    class TaskInstance:  # what pre_execute uses of the context
        def xcom_push(self, key, value):
            pushed[key] = value

    arguments = {"checkpoint": "checkpoint-1"} if task is ExportCheckpointOperator else {}
    operator = task(task_id="t", **{field: "r-1"}, **arguments)
    operator.pre_execute({"ti": TaskInstance()})
    page = {FineTuneJobLink: "fine_tune", CompressJobLink: "compress", DeploymentLink: "deploy"}[link]
    assert pushed == {link().xcom_key: INTERNATIONAL + PAGES[page].format("r-1")}


def test_a_connection_extra_replaces_one_kind_of_link():
    custom = settings_for(
        "dashscope.aliyuncs.com", deployment_console_url="https://ops.example/d/{deployed_model}"
    )
    assert DeploymentLink().url(custom, "m-1") == "https://ops.example/d/m-1"
    assert CompressJobLink().url(custom, "q-1") == MAINLAND + PAGES["compress"].format("q-1")


@pytest.mark.parametrize(
    "pattern",
    ["https://x/{oops}", "https://x/{job_id.x}", "https://x/{0}", "https://x/{", "https://x/{job_id!z}"],
)
def test_a_bad_link_pattern_is_a_warning_not_a_failure(monkeypatch, capsys, conn, pattern):
    """on_created stores every console link it can; a pattern that cannot be filled is logged,
    whatever str.format raises for it (KeyError, AttributeError, IndexError, ValueError)."""
    pushed = {}

    class TaskInstance:  # what on_created uses of the context
        def xcom_push(self, key, value):
            pushed[key] = value

    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", conn.connection_json(finetune_console_url=pattern))
    operator = CreateFineTuneJobOperator(task_id="t", model="m", training_file_ids=["f"])
    job = operator.hook.create_job(model="qwen3.5-flash-2026-02-23", training_file_ids=["file-train-1"])
    operator.on_created({"ti": TaskInstance()}, job)  # type: ignore[arg-type]
    assert pushed == {}
    warning = "No 'Fine-tune job' link: the extra finetune_console_url is not a valid pattern"
    assert warning in capsys.readouterr().out
