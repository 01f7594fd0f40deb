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
import queue
import select
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from airflow_provider_compress import _compat

MAX_QUEUED = 100  # records waiting for the writer, all the triggers of a process together
# Seconds a record waits for room before it is written anyway: a supervisor that reads nothing
# for that long stalls every line of the triggerer, the provider's records make no difference.
ROOM_WAIT = 10.0


class LogWriter:
    """One thread, so that records keep their order, writing each when ``fd`` has room.

    Not a ThreadPoolExecutor: a record waiting for room must still be withdrawable (a trigger
    whose job ended withdraws its queued record rather than wait, ``DashScopeResourceTrigger``),
    and an executor's future can no longer be cancelled once its function runs.
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd  # None: output that does not wait for a reader (a file, a terminal)
        self._records: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._queued = 0
        # A daemon: the records still queued (or half written) when the process ends are lines a
        # restarted trigger reads again, from the log_offset it was deferred with.
        threading.Thread(target=self._write_records, name="dashscope-log-writer", daemon=True).start()

    @property
    def full(self) -> bool:
        """Whether triggers should skip their next log read. Read without the lock: an
        approximate limit, since triggers whose read was under way when it was reached add a
        record each."""
        return self._queued >= MAX_QUEUED

    def submit(self, write: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``write(*args)`` on the writer thread once the output has room. Cancelling the
        future withdraws the record until it is being written, waiting for room included."""
        future: Future[Any] = Future()
        with self._lock:
            self._queued += 1
        future.add_done_callback(self._dequeued)
        self._records.put((future, write, args))
        return future

    def _dequeued(self, _: Future[Any]) -> None:
        with self._lock:
            self._queued -= 1

    def _write_records(self) -> None:
        while True:
            future, write, args = self._records.get()
            if future.cancelled():
                continue
            self._wait_for_room()
            if not future.set_running_or_notify_cancel():
                continue  # withdrawn while it waited
            try:
                future.set_result(write(*args))
            except BaseException as err:  # the trigger that awaits the record sees it
                future.set_exception(err)

    def _wait_for_room(self) -> None:
        if self._fd is None:
            return
        try:
            poller = select.poll()
            poller.register(self._fd, select.POLLOUT)
            poller.poll(ROOM_WAIT * 1000)
        except (OSError, ValueError):
            pass  # the write reports a socket that is gone; the thread must go on


@functools.cache
def writer() -> LogWriter:
    """The process's writer, shared by its triggers (made at first use: after Airflow has pointed
    the logs at the supervisor)."""
    return LogWriter(_compat.log_output_socket())


# A forked child has no copy of the thread: it makes its own.
os.register_at_fork(after_in_child=writer.cache_clear)
