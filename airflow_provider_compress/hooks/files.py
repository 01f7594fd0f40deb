"""``FileHook``: upload the files that fine-tune and compression jobs take by id.

Training data (``training_file_ids``) and calibration data (``custom_calibration_file_ids``) are
uploaded once through ``POST /api/v1/files`` (multipart) and referred to by their file id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressValidationError,
    FileUploadError,
    InvalidResponseError,
    ServerError,
)
from airflow_provider_compress.hooks.base import LIST_PAGE, DashScopeHook
from airflow_provider_compress.models import FilePage, UploadedFile

FileSource = str | os.PathLike[str] | bytes


class FileHook(DashScopeHook):
    """Files: upload (a local path or bytes -> file id), list, get, find by name and content."""

    def upload_file(
        self,
        source: FileSource,
        *,
        name: str | None = None,
        purpose: str = "fine-tune",
        description: str | None = None,
        reuse_existing: bool = False,
    ) -> UploadedFile:
        """Upload ``source`` (a path, or the bytes themselves with ``name``) and return the file.

        Checked before any request (the look-up of an uploaded copy included): a file on this
        machine, not empty, at most 300 MB; a name for bytes; a purpose. The upload is never
        repeated blindly: after an answer that was lost (5xx, reset, timeout) the file is looked
        up by name and content, and only a file not found fails. A file the API refuses (too
        large, too many files) raises ``FileUploadError``.

        :param name: the file's name in Model Studio; default the path's base name.
        :param purpose: ``fine-tune`` (training and calibration data), ``file-extract`` or ``batch``.
        :param reuse_existing: return a file of the same name and content (MD5) that is already
            uploaded instead of uploading a copy.
        """
        name, content = read_source(source, name)
        # Checked before any request, the lookup of an uploaded copy included.
        call = protocol.upload_file(name, content, purpose, description)
        md5 = hashlib.md5(content).hexdigest()
        if reuse_existing and (found := self.find_file(name, md5)) is not None:
            self.log.info("File %r with this content is uploaded already: %s", name, found.file_id)
            return found
        try:
            answer = self.run(call)
        except (ServerError, CompressConnectionError, InvalidResponseError) as err:
            found = self.find_file(name, md5)
            if found is None:
                raise
            self.log.warning("Upload of %r answered %s, but it arrived: %s", name, err, found.file_id)
            return found
        if answer.failed_uploads:
            refused = answer.failed_uploads[0]
            raise FileUploadError(200, refused.code, f"{refused.name}: {refused.message}", answer.request_id)
        if len(answer.uploaded_files) != 1:
            raise InvalidResponseError(
                200, None, f"one uploaded file expected, got {len(answer.uploaded_files)}", answer.request_id
            )
        return dataclasses.replace(answer.uploaded_files[0], request_id=answer.request_id)

    def list_files(self, page_no: int = 1, page_size: int = 10) -> FilePage:
        return self.run(protocol.list_files(page_no, page_size))

    def iter_files(self) -> Iterator[UploadedFile]:
        """Every uploaded file, the newest first, walking all pages."""
        return self.iter_pages(
            "file", lambda page_no: protocol.list_files(page_no, LIST_PAGE), lambda page: page.files
        )

    def get_file(self, file_id: str) -> UploadedFile:
        return self.run(protocol.get_file(file_id))

    def find_file(self, name: str, md5: str) -> UploadedFile | None:
        """The newest file named ``name`` whose content has this MD5, or None (also when the
        list does not report an ``md5``: a name alone does not say the content is the same)."""
        return next((f for f in self.iter_files() if f.name == name and f.md5 == md5), None)


def read_source(source: FileSource, name: str | None) -> tuple[str, bytes]:
    """The name and content of an upload, checked before any request."""
    if isinstance(source, bytes):
        if not name:
            raise CompressValidationError("name", "is required when uploading bytes")
        return name, source
    path = Path(source)
    if not path.is_file():
        raise CompressValidationError("path", "must be a file on this machine", str(source))
    size = path.stat().st_size
    if size > protocol.FILE_SIZE_MAX:  # before reading it into memory
        raise CompressValidationError(
            "path", f"has {size} bytes; the API takes at most {protocol.FILE_SIZE_MAX} per file", str(source)
        )
    return name or path.name, path.read_bytes()
