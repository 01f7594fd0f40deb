"""Forwarding a remote resource's log into the task log, as the worker-side waits do it (the
create operators and the sensor's poke mode; the triggers forward with their own async reads).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_provider_compress import metrics
from airflow_provider_compress.exceptions import CompressError
from airflow_provider_compress.protocol import ResourceKind


def remote_log_line(resource_id: str, number: int, line: str) -> str:
    """A remote log line as it appears in the task log: resource id and 1-based line number first."""
    return f"[{resource_id} #{number}] {line}"


class LogForwarding:
    """Mixin of an operator or sensor with a sync ``hook`` and a ``kind``."""

    kind: ClassVar[ResourceKind]
    hook: Any
    log: Any
    _log_problem_warned = False

    def forward_logs_from(self, resource_id: str, offset: int) -> int:
        """Write the resource's log lines from ``offset`` to the task log; return the new offset.

        Never raises: a log that cannot be read is a warning, not the task's failure (the
        resource's own status decides that); the lines not read yet are read next time."""
        if not self.kind.has_logs:
            return offset
        start = offset
        try:
            for line in self.hook.iter_resource_logs(self.kind, resource_id, offset, self._log_problem):
                offset += 1
                self.log.info("%s", remote_log_line(resource_id, offset, line))
        except CompressError as err:
            self.log.warning("Could not read the log of %s after line %d: %s", resource_id, offset, err)
        metrics.log_lines_forwarded(self.kind, offset - start)
        return offset

    def _log_problem(self, problem: str) -> None:
        """A log page that broke the paging contract (no line of it repeated or lost unsaid):
        warned about once per task."""
        if not self._log_problem_warned:
            self._log_problem_warned = True
            self.log.warning("%s (warned once)", problem)
