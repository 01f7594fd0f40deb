"""StopOrphanedWorkOperator: find the remote work this provider started that nothing in Airflow
accounts for any more, report it with its cost, and (``dry_run=False``) stop it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import metrics, ownership, work
from airflow_provider_compress.exceptions import CompressError
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.ownership import Account

if TYPE_CHECKING:
    from airflow.sdk import Context

KINDS = {metrics.label(kind): kind for kind in work.KINDS}


class StopOrphanedWorkOperator(BaseOperator):
    """Find the jobs and deployments this provider started that nothing accounts for any more
    (docs/operations.md#orphaned-work), log each with its cost, and with ``dry_run=False`` stop
    them: cancel a job, delete a deployment. Returns the report, one entry per orphan.

    Only work the provider can prove it started is considered (its id in a task's XCom, the
    description the compress operator writes, or a name derived from a task instance); a job made
    by hand in the console never is. A deployment whose task finished is kept (it serves), never
    orphaned. Whether a task still accounts for work is read from Airflow's REST API through
    ``airflow_conn_id``, since a task has no database access under Airflow 3's task isolation.

    :param airflow_conn_id: the connection to Airflow's REST API (``airflow_api.AirflowApiRecords``:
        the api-server's URL as host, the login and password of a user that may read every DAG).
    :param dashscope_conn_ids: the ``dashscope`` connections whose work to look at (templated).
    :param dry_run: only report (the default); False: stop each orphan (templated, as the attribute
        ``report_only``: ``dry_run`` is a method of every operator).
    :param kinds: which work: ``compress``, ``fine_tune``, ``deployment`` (default: all three).
    :param min_age: seconds; younger work is left out, whatever its task's state: its create may
        still be on its way to the task's XCom (templated).
    """

    template_fields: Sequence[str] = ("dashscope_conn_ids", "report_only", "min_age")
    ui_color = "#ff6a00"

    def __init__(
        self,
        *,
        airflow_conn_id: str,
        dashscope_conn_ids: Sequence[str] = (DashScopeHook.default_conn_name,),
        dry_run: bool | str = True,
        kinds: Sequence[str] = tuple(KINDS),
        min_age: float | str = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            from airflow_provider_compress.exceptions import CompressValidationError

            raise CompressValidationError("kinds", f"must be among {', '.join(KINDS)}", unknown)
        self.airflow_conn_id = airflow_conn_id
        self.dashscope_conn_ids = dashscope_conn_ids
        self.report_only = dry_run
        self.kinds = tuple(kinds)
        self.min_age = min_age

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_compress.airflow_api import AirflowApiRecords

        dry_run = _flag(self.report_only)
        conn_ids = self.dashscope_conn_ids
        conn_ids = [conn_ids] if isinstance(conn_ids, str) else list(conn_ids)
        kinds = [KINDS[k] for k in self.kinds]
        now, report, failed = time.time(), [], []
        for conn_id in conn_ids:
            items = [w for w in work.unfinished(conn_id, kinds) if (w.age(now) or 0) >= float(self.min_age)]
            records = AirflowApiRecords(self.airflow_conn_id, work.since(items))
            orphans = [
                (item, verdict)
                for item, verdict in zip(items, ownership.account(items, records), strict=True)
                if verdict.account is Account.ORPHANED
            ]
            for kind in kinds:
                metrics.orphans_found(kind, sum(1 for item, _ in orphans if item.kind is kind))
            self.log.info(
                "Connection %s: %d unfinished, %d orphaned%s",
                conn_id,
                len(items),
                len(orphans),
                " (dry run: nothing is stopped)" if dry_run else "",
            )
            for item, verdict in orphans:
                entry = item.report(verdict, now)
                if not dry_run:
                    entry["stopped"] = self._stop(item)
                    if not entry["stopped"]:
                        failed.append(item.resource_id)
                self.log.warning("Orphaned %s", _line(entry))
                report.append(entry)
        if failed:
            raise AirflowException(f"Could not stop orphaned work: {', '.join(failed)} (see the log)")
        return report

    def _stop(self, item: work.RemoteWork) -> bool:
        kind, hook = item.kind, DashScopeHook(dashscope_conn_id=item.conn_id)
        if not kind.needs_stop(item.status):
            return True  # already being stopped
        try:
            hook.stop_resource(kind, item.resource_id)
        except CompressError as err:
            self.log.error("Could not stop %s %s: %s", kind.noun, item.resource_id, err)
            return False
        metrics.resource_stopped(kind, "orphaned")
        return True


def _flag(value: bool | str) -> bool:
    """A rendered template gives text: "False", "false" and "0" are False."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return bool(value)


def _line(entry: dict[str, Any]) -> str:
    owner = entry["owner"]
    started = f"{owner['dag_id']}.{owner['task_id']} ({owner['run_id']})" if owner else "an unknown task"
    usage = entry["usage"]
    cost = f"{usage['usage']:,} {usage['unit']}" if usage else "no usage reported yet"
    age = entry["age_seconds"]
    stopped = {True: "; stopped", False: "; could NOT be stopped", None: ""}[entry.get("stopped")]
    return (
        f"{entry['kind']} {entry['resource_id']} ({entry['status']}, {age or 0:.0f} s old, {cost}), "
        f"started by {started}: {entry['reason']}{stopped}"
    )
