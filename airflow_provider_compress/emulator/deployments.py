"""The emulator's state machine of a deployment (fact sheet A): created, scaled or updated, deleted.

Pure Python with no web framework; a deployment's progress is a function of the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from airflow_provider_compress.emulator.catalog import SERVICE_TZ


@dataclasses.dataclass
class Deployment:
    """PENDING for 30 % of ``duration``, DEPLOYING until the end, then RUNNING (billed) or FAILED
    when capacity ran out. Scale and rate-limit updates: UPDATING for 30 % of ``duration``, then
    RUNNING with the change (billed while any unit serves), or UPDATING_FAILED when capacity ran
    out (the old capacity serves on). Delete: DELETING, then gone (404)."""

    deployed_model: str
    name: str
    model_name: str
    base_model: str
    plan: str
    capacity: int
    suffix: str | None
    unit_spec: str | None  # the MU spec (deploy_spec), echoed as model_unit_spec
    created: float
    duration: float
    will_fail: bool
    base_capacity: int = 1  # units per instance of the MU template
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)  # rpm_limit, tpm_limit, ptu_capacity
    status: str = "PENDING"
    modified: float = 0.0
    running_since: float | None = None
    billed_seconds: float = 0.0
    update_until: float | None = None
    new_capacity: int | None = None
    new_limits: dict[str, Any] | None = None
    update_will_fail: bool = False
    delete_after: float | None = None
    capacity_lag: float = 0.0  # seconds a landed scale still shows the old capacity (misbehaviour)
    shown_capacity: int | None = None  # the old capacity, shown until shown_until
    shown_until: float = 0.0

    def advance(self, now: float) -> None:
        if self.shown_capacity is not None and now >= self.shown_until:
            self.shown_capacity = None
        if self.status == "PENDING" and now >= self.created + 0.3 * self.duration:
            self.status, self.modified = "DEPLOYING", self.created + 0.3 * self.duration
        if self.status == "DEPLOYING" and now >= self.created + self.duration:
            self.modified = self.created + self.duration
            if self.will_fail:
                self.status = "FAILED"
            else:
                self.status = "RUNNING"
                self._take_changes(self.modified)
        if self.status == "UPDATING" and self.update_until is not None and now >= self.update_until:
            self.modified, self.update_until = self.update_until, None
            if self.update_will_fail:
                self.status, self.new_capacity, self.new_limits = "UPDATING_FAILED", None, None
            else:
                self.status = "RUNNING"
                self._take_changes(self.modified)

    def _take_changes(self, at: float) -> None:
        """A change asked for lands; billing runs while any unit serves (MU bills units x hours)."""
        if self.new_capacity is not None:
            if self.capacity_lag > 0 and self.new_capacity != self.capacity:
                self.shown_capacity, self.shown_until = self.capacity, at + self.capacity_lag
            self.capacity, self.new_capacity = self.new_capacity, None
        self.limits.update(self.new_limits or {})
        self.new_limits = None
        if self.capacity == 0 and self.plan in ("mu", "cu"):
            self.stop_billing(at)
        elif self.running_since is None:
            self.running_since = at

    def change(
        self, now: float, window: float, *, capacity: int | None, limits: dict[str, Any], fails: bool
    ) -> None:
        """Scale or update: a deployment still being created takes the change when it is RUNNING;
        any other turns UPDATING for ``window`` seconds."""
        if capacity is not None:
            self.new_capacity = capacity
        self.new_limits = {**(self.new_limits or {}), **limits}
        if self.status in ("PENDING", "DEPLOYING"):
            return
        self.status, self.modified = "UPDATING", now
        self.update_until, self.update_will_fail = now + window, fails

    def force(self, status: str, now: float) -> None:
        """Admin: put the deployment in ``status`` (any string): it stays there until changed."""
        self.status, self.modified, self.update_until = status, now, None
        if status == "RUNNING" and self.running_since is None:
            self.running_since = now

    def stop_billing(self, now: float) -> None:
        if self.running_since is not None:
            self.billed_seconds += now - self.running_since
            self.running_since = None

    def billed(self, now: float) -> float:
        """Seconds billed so far (while any unit served)."""
        return self.billed_seconds + (now - self.running_since if self.running_since is not None else 0.0)

    def gone(self, now: float) -> bool:
        return self.delete_after is not None and now >= self.delete_after

    def to_api(self, lang: str = "zh-CN", *, brief: bool = False) -> dict[str, Any]:
        iso = "%Y-%m-%dT%H:%M:%S"
        serving = self.status in ("RUNNING", "UPDATING", "UPDATING_FAILED")
        # LoRA deployments show no capacities (the fact sheet's LoRA examples, A.0)
        landed = self.capacity if self.shown_capacity is None else self.shown_capacity
        capacities = {
            "base_capacity": self.base_capacity,
            "capacity": self.new_capacity if self.new_capacity is not None else landed,
            "ready_capacity": landed if serving else 0,
        }
        return {
            "deployed_model": self.deployed_model,
            "name": self.name,
            "model_name": self.model_name,
            "base_model": self.base_model,
            "status": self.status,
            "plan": self.plan,
            **({} if self.plan == "lora" else capacities),
            "charge_type": "post_paid",
            **({"model_unit_spec": self.unit_spec} if self.unit_spec else {}),
            **self.limits,
            "workspace_id": "llm-emulator",
            "gmt_create": dt.datetime.fromtimestamp(self.created, SERVICE_TZ).strftime(iso),
            "gmt_modified": dt.datetime.fromtimestamp(self.modified or self.created, SERVICE_TZ).strftime(
                iso
            ),
        }
