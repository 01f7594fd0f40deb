"""Airflow's REST API (``/api/v2``), as a task reads it: the task instances that started remote
work (``ownership.Records``), for the orphan operator.

A task under Airflow 3's task isolation has no metadata database; the Task SDK's execution API
answers a task's questions about named task instances, but cannot list who pushed an XCom key,
which finding the owner of work that names no task (a deployment, a fine-tune) needs. The REST API
can, for the user of the connection, with the access the auth manager gives that user.

The connection: ``host`` the api-server's URL (``http://airflow-api-server:8080``, or a host with
``schema`` http/https and ``port``), ``login`` and ``password`` of a user that may read the DAGs, their
runs, task instances and XComs (a token is asked of ``/auth/token``, as Airflow's simple and FAB
auth managers issue them); or, without a login, a token (JWT) as ``password``.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any
from urllib.parse import quote

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress._compat import BaseHook
from airflow_provider_compress.ownership import TaskRecord, TaskRef

PAGE = 100
TIMEOUT = 30.0


class AirflowApiRecords:
    """``ownership.Records`` read from Airflow's REST API; XComs of runs after ``since``."""

    def __init__(self, conn_id: str, since: dt.datetime | None = None) -> None:
        self.conn_id, self.since = conn_id, since
        self._pushers: dict[str, list[TaskRef]] = {}
        self._values: dict[tuple[TaskRef, str], Any] = {}

    @cached_property
    def _conn(self) -> Any:
        return BaseHook.get_connection(self.conn_id)

    @cached_property
    def base_url(self) -> str:
        conn = self._conn
        host = (conn.host or "").rstrip("/")
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
        return host

    @cached_property
    def session(self) -> Any:
        import requests

        session = requests.Session()
        session.headers["Accept"] = "application/json"
        session.headers["Authorization"] = f"Bearer {self._token()}"
        return session

    def _token(self) -> str:
        import requests

        conn = self._conn
        if not conn.login:
            return str(conn.password or "")
        answer = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": conn.login, "password": conn.password},
            timeout=TIMEOUT,
        )
        if not answer.ok:
            raise AirflowException(
                f"Airflow connection {self.conn_id!r}: {self.base_url}/auth/token answered HTTP "
                f"{answer.status_code}: check its login and password"
            )
        return str(answer.json()["access_token"])

    def _get(self, path: str, **params: Any) -> Any:
        """The JSON of ``GET /api/v2<path>``; None on 404."""
        answer = self.session.get(f"{self.base_url}/api/v2{path}", params=params, timeout=TIMEOUT)
        if answer.status_code == 404:
            return None
        if not answer.ok:
            raise AirflowException(
                f"Airflow's REST API answered HTTP {answer.status_code} to GET /api/v2{path} "
                f"(connection {self.conn_id!r}): {answer.text[:300]}"
            )
        return answer.json()

    # --- ownership.Records

    def pushers(self, key: str) -> list[TaskRef]:
        if key not in self._pushers:
            found: list[TaskRef] = []
            params: dict[str, Any] = {"xcom_key": key, "limit": PAGE}
            if self.since is not None:
                params["run_after_gte"] = self.since.isoformat()
            while True:
                page = self._get("/dags/~/dagRuns/~/taskInstances/~/xcomEntries", offset=len(found), **params)
                entries = (page or {}).get("xcom_entries", [])
                found += [TaskRef(e["dag_id"], e["run_id"], e["task_id"], e["map_index"]) for e in entries]
                if not entries or len(found) >= (page or {}).get("total_entries", 0):
                    break
            self._pushers[key] = found
        return self._pushers[key]

    def pushed(self, ref: TaskRef, key: str) -> Any:
        if (ref, key) not in self._values:
            path = f"{_task_path(ref)}/xcomEntries/{quote(key, safe='')}"
            entry = self._get(path, map_index=ref.map_index, deserialize="true")
            self._values[ref, key] = None if entry is None else entry.get("value")
        return self._values[ref, key]

    def task(self, ref: TaskRef, key: str) -> TaskRecord | None:
        suffix = f"/{ref.map_index}" if ref.map_index >= 0 else ""
        ti = self._get(f"{_task_path(ref)}{suffix}")
        if ti is None:
            return None
        run = self._get(_run_path(ref)) or {}
        return TaskRecord(ti.get("state"), run.get("state"), self.pushed(ref, key), ti.get("try_number"))


def _run_path(ref: TaskRef) -> str:
    return f"/dags/{quote(ref.dag_id, safe='')}/dagRuns/{quote(ref.run_id, safe='')}"


def _task_path(ref: TaskRef) -> str:
    return f"{_run_path(ref)}/taskInstances/{quote(ref.task_id, safe='')}"
