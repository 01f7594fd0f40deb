"""What the view reads of Airflow's metadata database, in the api-server: the ``dashscope``
connections, and the task instances that started the remote work (``ownership.Records``)."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_provider_compress.ownership import TaskRecord, TaskRef

CONN_TYPE = "dashscope"
ENV_PREFIX = "AIRFLOW_CONN_"


def dashscope_conn_ids(session: Session) -> list[str]:
    """The connections of type ``dashscope``: stored in the database, or in the api-server's
    environment (``AIRFLOW_CONN_<ID>``). Other secrets backends cannot be listed."""
    from airflow.models.connection import Connection

    found = set(session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE)))
    for name, value in os.environ.items():
        if name.startswith(ENV_PREFIX) and _env_conn_type(value) == CONN_TYPE:
            found.add(name[len(ENV_PREFIX) :].lower())
    return sorted(found)


def _env_conn_type(value: str) -> str | None:
    if value.lstrip().startswith("{"):
        try:
            return str(json.loads(value).get("conn_type") or "").replace("-", "_") or None
        except (ValueError, AttributeError):
            return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    return scheme.replace("-", "_") or None


class DatabaseRecords:
    """``ownership.Records`` read from the metadata database; XComs pushed since ``since``."""

    def __init__(self, session: Session, since: dt.datetime | None) -> None:
        self.session, self.since = session, since
        self._pushed: dict[str, dict[TaskRef, Any]] = {}

    def _pushes(self, key: str) -> dict[TaskRef, Any]:
        from airflow.models.xcom import XComModel

        if key not in self._pushed:
            query = select(XComModel).where(XComModel.key == key)
            if self.since is not None:
                query = query.where(XComModel.timestamp >= self.since)
            self._pushed[key] = {
                TaskRef(x.dag_id, x.run_id, x.task_id, x.map_index): XComModel.deserialize_value(x)
                for x in self.session.scalars(query)
            }
        return self._pushed[key]

    def pushers(self, key: str) -> list[TaskRef]:
        return list(self._pushes(key))

    def pushed(self, ref: TaskRef, key: str) -> Any:
        from airflow.models.xcom import XComModel

        pushes = self._pushes(key)
        if ref in pushes:
            return pushes[ref]
        row = self.session.scalars(
            select(XComModel).where(
                XComModel.key == key,
                XComModel.dag_id == ref.dag_id,
                XComModel.run_id == ref.run_id,
                XComModel.task_id == ref.task_id,
                XComModel.map_index == ref.map_index,
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None

    def task(self, ref: TaskRef, key: str) -> TaskRecord | None:
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance

        row = self.session.execute(
            select(TaskInstance.state, TaskInstance.try_number, DagRun.state)
            .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
            .where(
                TaskInstance.dag_id == ref.dag_id,
                TaskInstance.run_id == ref.run_id,
                TaskInstance.task_id == ref.task_id,
                TaskInstance.map_index == ref.map_index,
            )
        ).first()
        if row is None:
            return None
        state, try_number, run_state = row
        return TaskRecord(_text(state), _text(run_state), self.pushed(ref, key), try_number)


def _text(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))
