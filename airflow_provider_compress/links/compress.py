"""The "Compression job" extra link: the job in the Model Studio console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

# Console pages per API region; a connection extra ``console_url`` (with ``{job_id}``) overrides.
CONSOLE_URLS = {
    "dashscope-intl.aliyuncs.com": "https://bailian.console.alibabacloud.com/?tab=model#/model-compression/{job_id}",
    "": "https://bailian.console.aliyun.com/?tab=model#/model-compression/{job_id}",
}


def console_url(base_url: str, job_id: str, pattern: str | None = None) -> str:
    if not pattern:
        pattern = next(url for host, url in CONSOLE_URLS.items() if host in base_url)
    return pattern.format(job_id=job_id)


class CompressJobLink(BaseOperatorLink):
    """Airflow 3 reads the URL from XCom (``xcom_key``), pushed by the operator once the job exists."""

    name = "Compression job"

    @classmethod
    def persist(cls, context: Context, base_url: str, job_id: str, pattern: str | None = None) -> None:
        context["ti"].xcom_push(key=cls().xcom_key, value=console_url(base_url, job_id, pattern))

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""
