"""The thread that writes the triggers' log records into the task logs, in a triggerer only as
fast as the triggerer's supervisor reads them (docs/performance.md, change 6).

In a triggerer every log record of the runner, Airflow's own included, goes into one blocking
socket that the supervisor drains between its database calls. Kept full by the provider's
records, that socket made every line Airflow logs from the event loop wait, and with it every
trigger. So a record is written only while the socket has room (a Unix socket reports it
writable while at most a quarter of its buffer is in use), and few records wait: while
``MAX_QUEUED`` do, triggers read their logs later, more lines a record.
"""

from __future__ import annotations

import functools
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from airflow_provider_compress import _compat

MAX_QUEUED = 100  # records waiting for the writer, all the triggers of a process together
# Seconds a record waits for room before it is written anyway: a supervisor that reads nothing
# for that long stalls every line of the triggerer, the provider's records make no difference.
ROOM_WAIT = 10.0


class LogWriter:
    """One thread, so that records keep their order, writing each when ``fd`` has room."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd  # None: output that does not wait for a reader (a file, a terminal)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashscope-log-writer")
        self._lock = threading.Lock()
        self._queued = 0

    @property
    def full(self) -> bool:
        return self._queued >= MAX_QUEUED

    def submit(self, write: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``write(*args)`` on the writer thread once the output has room; a future that is
        cancelled before it runs writes nothing."""
        with self._lock:
            self._queued += 1
        future = self._executor.submit(self._write_when_room, write, *args)
        future.add_done_callback(self._dequeued)
        return future

    def _dequeued(self, _: Future[Any]) -> None:
        with self._lock:
            self._queued -= 1

    def _write_when_room(self, write: Callable[..., Any], *args: Any) -> Any:
        if self._fd is not None:
            poller = select.poll()
            poller.register(self._fd, select.POLLOUT)
            poller.poll(ROOM_WAIT * 1000)
        return write(*args)


@functools.cache
def writer() -> LogWriter:
    """The process's writer, shared by its triggers (made at first use: after Airflow has pointed
    the logs at the supervisor)."""
    return LogWriter(_compat.log_output_socket())


# A forked child has no copy of the thread: it makes its own.
os.register_at_fork(after_in_child=writer.cache_clear)
