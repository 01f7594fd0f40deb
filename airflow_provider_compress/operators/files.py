"""UploadFileOperator: upload training or calibration data; the jobs downstream take its file id."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.hooks.files import FileHook

if TYPE_CHECKING:
    from airflow.sdk import Context


class UploadFileOperator(BaseOperator):
    """Upload a local file (or bytes) to Model Studio and return its file id (XCom), for a
    fine-tune's ``training_file_ids`` or a compression job's ``custom_calibration_file_ids``.

    :param path: the file to upload, on the worker (templated). Exactly one of ``path`` and ``data``.
    :param data: the content to upload instead of a file (with ``name``).
    :param name: the file's name in Model Studio (templated); default the path's base name.
    :param purpose: ``fine-tune`` (training and calibration data; the default), ``file-extract``
        or ``batch`` (templated).
    :param description: free text kept with the file (templated).
    :param reuse_existing: when a file of the same name and the same content (MD5) is uploaded
        already, return it instead of uploading a copy (default True): a retry, a rerun or a clear
        uploads nothing twice. Upload quota counts files (10,000) and bytes (100 GB).
    :param dashscope_conn_id: the ``dashscope`` connection.
    """

    template_fields: Sequence[str] = ("path", "name", "purpose", "description")
    ui_color = "#ff6a00"

    def __init__(
        self,
        *,
        path: str | None = None,
        data: bytes | None = None,
        name: str | None = None,
        purpose: str = "fine-tune",
        description: str | None = None,
        reuse_existing: bool = True,
        dashscope_conn_id: str = DashScopeHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (path is None) == (data is None):
            raise ValueError("UploadFileOperator: give exactly one of path and data")
        self.path = path
        self.data = data
        self.name = name
        self.purpose = purpose
        self.description = description
        self.reuse_existing = reuse_existing
        self.dashscope_conn_id = dashscope_conn_id
        self.file_id: str | None = None  # once uploaded (or found uploaded): the lineage's output

    @cached_property
    def hook(self) -> FileHook:
        return FileHook(dashscope_conn_id=self.dashscope_conn_id)

    def execute(self, context: Context) -> str:
        source = self.data if self.data is not None else str(self.path)
        uploaded = self.hook.upload_file(
            source,
            name=self.name or None,
            purpose=self.purpose,
            description=self.description or None,
            reuse_existing=self.reuse_existing,
        )
        self.log.info("%s is file %s (purpose %s)", uploaded.name, uploaded.file_id, self.purpose)
        self.file_id = uploaded.file_id
        return uploaded.file_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra): the uploaded
        file, with the local file it was read from as its ``symlinks`` facet."""
        from airflow_provider_compress import lineage

        source = os.path.abspath(self.path) if self.path is not None else None
        output = ("files", self.file_id) if self.file_id else None
        return lineage.operator_lineage(self.hook.settings, [], output, None, source=source)
