"""The console links of the three stages: the region's console, a connection extra's pattern, and
a pattern that cannot be filled. The links a real run stores: tests/airflow/test_links_and_lineage.py."""

from __future__ import annotations

import pytest

from airflow_provider_compress import regions
from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from tests.support import INTERNATIONAL, MAINLAND, PAGES, settings_for


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
    ("host", "console"),
    [
        ("dashscope.aliyuncs.com", MAINLAND),
        ("https://dashscope-intl.aliyuncs.com", INTERNATIONAL),
        ("https://ws-1.ap-southeast-1.maas.aliyuncs.com", INTERNATIONAL),
        ("https://ws-1.cn-beijing.maas.aliyuncs.com", MAINLAND),
    ],
)
def test_each_link_opens_the_console_of_the_region(host, console):
    links = (FineTuneJobLink(), CompressJobLink(), DeploymentLink())
    for link, page in zip(links, PAGES.values(), strict=True):
        assert link.url(settings_for(host), "x-1") == console + page.format("x-1")


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
