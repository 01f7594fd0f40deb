"""How a create operator's wait ends, in one place: which exit stops the work the task owns
(cancels a job, deletes a deployment) and which leaves it for a retry, and what the task says
(docs/exits.md). A kill and the worker's error exits come here; the trigger decides its own
deadline (``triggers.base``) by the same rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, events, metrics
from airflow_provider_compress.exceptions import CompressError, NotFoundError
from airflow_provider_compress.links.console import ConsoleLink
from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.protocol import ResourceKind

if TYPE_CHECKING:
    from airflow.sdk import Context


class WorkExits:
    """Mixin of ``DashScopeResourceOperator``: the stop, and the exits that decide on it."""

    kind: ClassVar[ResourceKind]
    hook: Any
    log: Any
    operator_extra_links: Any
    resource_id: str | None
    cancel_on_kill: bool
    stop_on_timeout: bool  # False: the work is kept on every exit (keep_deployment)
    _creating: str | None

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context):
        """Airflow resumes a deferred task only to fail it when its trigger failed, or when no
        triggerer ran the trigger by its deadline (``DEFERRAL_GRACE``): the work is then stopped
        or left for a retry as on any other exit (docs/exits.md) before Airflow's error is raised."""
        if next_method == _compat.TRIGGER_FAILED:
            self.resource_id = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key=self.kind.id_field)
            if self.resource_id and _compat.trigger_timed_out(next_kwargs):
                stopped = self._stop("the deferral timed out") if self.stop_on_timeout else None
                raise _compat.AirflowTaskTimeout(
                    f"{self.kind.noun} {self.resource_id}: no triggerer watched it by its deadline; "
                    + (stopped or f"it was kept (not {self.kind.stop_verb})")
                )
            if self.resource_id:
                kwargs = next_kwargs or {}
                self.log.error("Trigger failed:\n%s", "\n".join(kwargs.get("traceback") or []))
                failed = f"the trigger watching {self.kind.noun} {self.resource_id} failed"
                self._give_up(context, f"{failed} ({kwargs.get('error', 'unknown')})", None)
        return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]

    def _give_up(self, context: Context, message: str, last: ApiModel | None) -> NoReturn:
        """The wait ended in error: the resource could not be watched (an outage past the
        connection's ``outage_budget``, a 401 or 403, answers it cannot read). With tries left the
        work is left running for the retry, which reattaches to it; on the last try it is stopped
        as far as the API allows. The message names the resource, its last known status and its
        console page."""
        assert self.resource_id is not None
        kind = self.kind
        status = getattr(last, "status", None) or "not read"
        page = self._console_url()
        where = f" (last known status: {status}" + (f"; console: {page})" if page else ")")
        if _compat.task_will_retry(context.get("ti")):
            outcome = "it is left running: the task's retry will reattach to it"
        elif not self.stop_on_timeout:
            outcome = f"it was kept (not {kind.stop_verb}), as asked"
        else:
            stopped = self._stop("the wait ended in error on the task's last try")
            outcome = "on the task's last try, " + (stopped or events.stop_failed(kind))
        raise AirflowException(f"{message}{where}; {outcome}")

    def _console_url(self) -> str | None:
        for link in self.operator_extra_links:
            if isinstance(link, ConsoleLink) and self.resource_id:
                try:
                    return link.url(self.hook.settings, self.resource_id)
                except Exception:  # a bad override pattern: the link says so at on_created
                    return None
        return None

    def on_kill(self) -> None:
        if not self.cancel_on_kill:
            return
        if self.resource_id is None and self._creating:
            # Killed while creating: the create may have gone through.
            try:
                found = self.hook.find_named(self.kind, self._creating)
            except CompressError as err:
                self.log.error("Could not look up %r to stop it: %s", self._creating, err)
                return
            self.resource_id = self.kind.resource_id(found) if found is not None else None
        if self.resource_id:
            self._stop("the task was killed")

    def _stop(self, why: str) -> str | None:
        """Best effort and idempotent: work that is over or already stopping is left alone, any
        other is stopped, whatever its status (one the provider does not know included); errors
        are logged.

        Returns what became of the work, for the task's message (``events.stop_accepted`` only
        once the API accepted the stop); None when it could not be stopped.
        """
        assert self.resource_id is not None
        noun = self.kind.noun
        try:
            try:
                resource = self.hook.get_resource(self.kind, self.resource_id)
            except NotFoundError:
                return events.stop_not_needed(None)
            if not self.kind.needs_stop(resource.status):
                return events.stop_not_needed(resource.status)
            self.hook.stop_resource(self.kind, self.resource_id)
            metrics.resource_stopped(self.kind, why)
            outcome = events.stop_accepted(self.kind)
            self.log.warning("%s %s (%s): %s (%s)", noun, self.resource_id, resource.status, outcome, why)
            return outcome
        except CompressError as err:
            self.log.error(
                "Could not stop %s %s (%s): %s; it may still be running", noun, self.resource_id, why, err
            )
            return None
