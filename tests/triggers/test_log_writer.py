"""The log writer keeps the triggerer's log socket with room for the event loop's own lines, and
few records wait for it (docs/performance.md, change 6); over a real socket pair and, for the
triggers, against the emulator over real HTTP."""

from __future__ import annotations

import functools
import os
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from airflow_provider_compress.triggers import base as trigger_base
from airflow_provider_compress.triggers import log_writer
from tests.support.triggers import events_of, make_trigger, new_job


def _writable(sock: socket.socket) -> bool:
    return bool(select.select([], [sock], [], 0)[1])


@pytest.fixture
def log_socket():
    """A socket pair as between a triggerer's runner and its supervisor: the runner's end filled
    past a quarter of its buffer (no longer writable) with plenty of room left, nothing read yet."""
    runner, supervisor = socket.socketpair()
    runner.setblocking(False)
    filler = b""
    while _writable(runner):
        filler += b"f" * runner.send(b"f" * 1024)
    runner.setblocking(True)
    yield runner, supervisor, filler
    runner.close()
    supervisor.close()


def _until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _waiting_for_room(writer: log_writer.LogWriter) -> bool:
    """Whether the writer's thread is waiting for room in its output (for the record it took)."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == "_wait_for_room" and frame.f_locals.get("self") is writer:
                return True
            frame = frame.f_back
    return False


def _read_all(sock: socket.socket, size: int) -> bytes:
    data = b""
    sock.settimeout(10)
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_a_record_waits_for_room_so_that_the_loops_own_line_finds_it(log_socket):
    """A record larger than the room left is not written while the socket holds more than a
    quarter: a line the event loop writes meanwhile goes in at once (written at once, the record
    would fill the socket and the line would wait for the supervisor, as Airflow's own lines
    did). Once the supervisor reads, the record follows, whole."""
    runner, supervisor, filler = log_socket
    record = b"r" * (4 * runner.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    writer = log_writer.LogWriter(runner.fileno())
    written = writer.submit(runner.sendall, record)
    _until(lambda: _waiting_for_room(writer))  # it took the record, and does not write it
    assert not written.done()
    loop_line = threading.Thread(target=os.write, args=(runner.fileno(), b"LINE"), daemon=True)
    loop_line.start()
    loop_line.join(2)
    assert not loop_line.is_alive()  # it would wait for the supervisor behind the record
    received: list[bytes] = []
    total = len(filler) + len(b"LINE") + len(record)
    reader = threading.Thread(target=lambda: received.append(_read_all(supervisor, total)))
    reader.start()
    written.result(timeout=10)
    reader.join(10)
    assert received == [filler + b"LINE" + record]


def test_records_are_written_in_order_and_a_cancelled_one_not_at_all(log_socket):
    """Order and withdrawal while queued behind another record (waiting for room: above)."""
    runner, supervisor, filler = log_socket
    writer = log_writer.LogWriter(runner.fileno())
    first, second, third = (writer.submit(runner.sendall, part) for part in (b"one", b"two", b"three"))
    assert second.cancel()  # still queued behind the first, which waits for room
    assert _read_all(supervisor, len(filler)) == filler
    third.result(timeout=10)
    assert first.done() and _read_all(supervisor, len(b"onethree")) == b"onethree"


def test_a_record_waiting_for_room_can_be_withdrawn(log_socket):
    """A trigger whose job ended withdraws its queued record rather than wait for the socket:
    waiting for room counts as queued, so the event is not held up by the supervisor."""
    runner, supervisor, filler = log_socket
    writer = log_writer.LogWriter(runner.fileno())
    record = writer.submit(runner.sendall, b"record")
    after = writer.submit(runner.sendall, b"after")
    _until(lambda: _waiting_for_room(writer))  # the writer took the record: waits for room
    assert writer._records.qsize() == 1 and not record.running() and record.cancel()
    assert _read_all(supervisor, len(filler)) == filler
    after.result(timeout=10)
    assert _read_all(supervisor, len(b"after")) == b"after"
    _until(lambda: writer._queued == 0)  # done callbacks run just after result() returns


def test_output_that_is_no_socket_is_written_at_once(tmp_path):
    with open(tmp_path / "log", "wb", buffering=0) as log_file:
        writer = log_writer.LogWriter(None)
        writer.submit(log_file.write, b"line").result(timeout=5)
    assert (tmp_path / "log").read_bytes() == b"line"


async def test_while_records_queue_up_triggers_read_no_logs(conn, monkeypatch):
    """With ``MAX_QUEUED`` records waiting for the writer, a trigger polls on but reads no log
    (the lines are read later, more a record); once they are written it reads again."""
    monkeypatch.setattr(log_writer, "MAX_QUEUED", 2)
    monkeypatch.setattr(trigger_base, "LOG_INTERVAL", 0.0)
    release = threading.Event()
    writer = log_writer.writer()
    stuck = [writer.submit(release.wait, 60) for _ in range(2)]
    assert writer.full
    job_id = new_job()
    reads = conn.state()["job_reads"].get("logs RUNNING", 0)
    polls = conn.state()["job_reads"].get("status RUNNING", 0)
    try:
        (event,) = await events_of(make_trigger(job_id))
        assert conn.state()["job_reads"].get("status RUNNING", 0) > polls  # it polled while running
        assert conn.state()["job_reads"].get("logs RUNNING", 0) == reads
        assert event["status"] == "SUCCEEDED" and event["log_offset"] == 0
    finally:
        release.set()
        for future in stuck:
            future.result()
    assert not writer.full
    (event,) = await events_of(make_trigger(new_job()))
    assert conn.state()["job_reads"].get("logs RUNNING", 0) > reads and event["log_offset"] > 0


@pytest.mark.parametrize("to_socket", [True, False], ids=["socket", "file"])
def test_the_socket_airflow_points_the_logs_at_is_found(tmp_path, to_socket):
    """Found the way a triggerer's runner is set up: Airflow's supervisor code configures the
    child's logging to write to a socket (run in a child process: it replaces the logging)."""
    code = f"""
import os, socket
from airflow.sdk.execution_time.supervisor import _configure_logs_over_json_channel
from airflow_provider_compress import _compat
if {to_socket}:
    runner, supervisor = socket.socketpair()
    fd = runner.detach()
else:
    fd = os.open({str(tmp_path / "log")!r}, os.O_WRONLY | os.O_CREAT)
_configure_logs_over_json_channel(fd)
print(_compat.log_output_socket() == fd if {to_socket} else _compat.log_output_socket())
"""
    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120, check=True)
    out = run([sys.executable, "-c", code]).stdout.strip().splitlines()[-1]
    assert out == ("True" if to_socket else "None")
