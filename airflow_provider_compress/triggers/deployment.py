"""DeploymentTrigger: waits until a deployment is RUNNING; deletes it on kill or deadline (unless
``keep_deployment`` turned that off).
DeploymentDeletionTrigger: sends a refused delete again until accepted, and waits until it is gone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_compress import metrics, protocol, validation
from airflow_provider_compress.events import DeletionEnd, WatchEnd
from airflow_provider_compress.exceptions import CompressApiError, CompressError, NotFoundError
from airflow_provider_compress.hooks.deployment import DeploymentAsyncHook
from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DeploymentTrigger(DashScopeResourceTrigger):
    __doc__ = DashScopeResourceTrigger.__doc__
    kind = protocol.DEPLOYMENT
    hook_class = DeploymentAsyncHook


class DeploymentDeletionTrigger(BaseTrigger):
    """Delete a deployment: send the delete (again) until the API accepts it, then, with
    ``wait_until_gone``, poll until the deployment is gone (404).

    A delete refused for the deployment's state (400 or 409) is sent again while the deployment
    changes state (protocol.after_refused_delete); refused in a settled state, it ends with an
    ``error`` event. Yields one event: ``deleted`` (gone), ``deleting`` (accepted, not waited
    for), ``timeout`` or ``error``, with a ``message``.

    :param dashscope_conn_id: the connection id; the trigger never holds the key itself.
    :param deployed_model: the deployment.
    :param poll_interval: seconds between tries and polls.
    :param deadline: epoch seconds after which it gives up.
    :param wait_until_gone: after the delete is accepted, wait until GET answers 404.
    :param deadline_reason: which deadline ``deadline`` is (``timeout`` or ``execution_timeout``),
        the status of the event sent when it passes.
    """

    def __init__(
        self,
        dashscope_conn_id: str,
        deployed_model: str,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        wait_until_gone: bool = True,
        deadline_reason: str = WatchEnd.TIMEOUT,
    ) -> None:
        super().__init__()
        validation.check_resource_id("deployed_model", deployed_model)
        validation.check_poll_interval("poll_interval", poll_interval)
        self.dashscope_conn_id = dashscope_conn_id
        self.deployed_model = deployed_model
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.wait_until_gone = wait_until_gone
        self.deadline_reason = str(WatchEnd(deadline_reason))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dashscope_conn_id": self.dashscope_conn_id,
                "deployed_model": self.deployed_model,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "wait_until_gone": self.wait_until_gone,
                "deadline_reason": self.deadline_reason,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with DeploymentAsyncHook(dashscope_conn_id=self.dashscope_conn_id) as hook:
            yield await self._delete(hook)

    async def _delete(self, hook: DeploymentAsyncHook) -> TriggerEvent:
        name, accepted = self.deployed_model, False
        outage = protocol.OutageClock((await hook.client_settings()).outage_budget)
        while True:
            try:
                status = (await hook.get_deployment(name)).status
                if not accepted:
                    accepted = status in protocol.DEPLOYMENT.stopping or await self._try(hook)
                outage.recovered()
            except NotFoundError:
                return self._event(DeletionEnd.DELETED, f"Deployment {name} is gone")
            except CompressError as err:
                if not protocol.rides_out(err) or outage.failed(time.monotonic()):
                    return self._event(
                        WatchEnd.ERROR,
                        f"Could not delete deployment {name} ({'accepted' if accepted else 'not accepted'}; "
                        f"requests failing for {outage.lasted(time.monotonic()):.0f} s): {err}; "
                        "it may still be billing",
                    )
                self.log.warning("A request about deployment %s failed, trying again: %s", name, err)
            if accepted and not self.wait_until_gone:
                return self._event(DeletionEnd.DELETING, f"Deployment {name} is being deleted")
            if self.deadline is not None and time.time() >= self.deadline:
                if accepted:
                    return self._event(
                        self.deadline_reason,
                        f"Deployment {name} still exists (its delete was accepted): it may still be billing",
                    )
                return self._event(
                    self.deadline_reason,
                    f"The API still refused to delete deployment {name}: it may still be billing",
                )
            await asyncio.sleep(self.poll_interval)

    async def _try(self, hook: DeploymentAsyncHook) -> bool:
        """One delete: True once accepted (or one is under way); False when refused while the
        deployment changes state. NotFoundError when it is gone."""
        try:
            await hook.delete_deployment(self.deployed_model)
        except CompressApiError as refusal:
            if not protocol.is_state_refusal(refusal):
                raise
            status = (await hook.get_deployment(self.deployed_model)).status
            action = protocol.after_refused_delete(status)
            if action == "fail":
                raise CompressError(f"it is {status} and the API refused: {refusal}") from None
            if action == "deleting":
                return True
            self.log.info(
                "The delete of deployment %s was refused while it is %s (%s); sending it again in %g s",
                self.deployed_model,
                status,
                refusal,
                self.poll_interval,
            )
            return False
        self.log.info("Deployment %s is being deleted", self.deployed_model)
        metrics.resource_stopped(protocol.DEPLOYMENT, "requested by the task")
        return True

    def _event(self, status: str, message: str) -> TriggerEvent:
        """Plain JSON: the status as a string."""
        return TriggerEvent(
            {"status": str(status), "deployed_model": self.deployed_model, "message": message}
        )
