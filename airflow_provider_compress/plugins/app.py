"""The plugin's FastAPI app, served by the api-server under ``/dashscope``: ``api/work`` (JSON, the
work of every ``dashscope`` connection that is not finished and how it is accounted for) and
``app.js`` (the page of the UI that shows it). Read-only.

Behind Airflow's own authentication (the UI's session cookie or a bearer token, as Airflow's REST
API), and per-DAG authorization: a user sees the work of the DAGs the auth manager lets them read;
work no DAG owns (not started by Airflow, or orphaned without a task instance) only a user who may
read every DAG sees (so does the work of a DAG deleted since, which the auth manager no longer
lists).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# a dependency imported inside create_app (the api-server's, not at import).
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI
from fastapi.responses import Response

from airflow_provider_compress import ownership, work
from airflow_provider_compress.ownership import Verdict
from airflow_provider_compress.plugins.records import DatabaseRecords, dashscope_conn_ids


def create_app() -> FastAPI:
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(title="Model Studio work", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/work")
    def unfinished_work(user: Annotated[Any, Depends(get_user)]) -> dict[str, Any]:  # sync: in a thread
        return gather(user)

    @app.get("/app.js")
    def bundle() -> Response:
        script = resources.files(__package__).joinpath("model_studio.js").read_text()
        return Response(script, media_type="text/javascript")

    return app


def gather(user: Any) -> dict[str, Any]:
    """Every connection's unfinished work that ``user`` may see, with its verdict."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.utils.session import create_session

    auth = get_auth_manager()
    every_dag = auth.is_authorized_dag(method="GET", user=user)
    readable = set() if every_dag else set(auth.get_authorized_dag_ids(user=user, method="GET"))
    sections: list[dict[str, Any]] = []
    with create_session() as session:
        for conn_id in dashscope_conn_ids(session):
            try:
                items = work.unfinished(conn_id)
            except Exception as err:  # a connection that cannot list: shown, the others still are
                sections.append({"conn_id": conn_id, "error": f"{type(err).__name__}: {err}", "work": []})
                continue
            records = DatabaseRecords(session, work.since(items))
            rows = [
                row(item, verdict)
                for item, verdict in zip(items, ownership.account(items, records), strict=True)
                if every_dag or (verdict.owner is not None and verdict.owner.dag_id in readable)
            ]
            sections.append({"conn_id": conn_id, "error": None, "work": rows})
    return {"connections": sections}


def row(item: work.RemoteWork, verdict: Verdict) -> dict[str, Any]:
    """A row of the page: the report of ``item``, with its owner's page in the grid."""
    found = item.report(verdict)
    if verdict.owner is not None:
        ref = verdict.owner
        dag_id, run_id, task_id = (quote(part, safe="") for part in (ref.dag_id, ref.run_id, ref.task_id))
        found["owner"]["url"] = f"dags/{dag_id}/runs/{run_id}/tasks/{task_id}" + (
            f"/mapped/{ref.map_index}" if ref.map_index >= 0 else ""
        )
    return found
