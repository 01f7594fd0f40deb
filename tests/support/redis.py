"""A private Redis server for the Celery live tests (tests/live/test_celery.py): Debian's
``redis-server``, a data directory in a new temporary directory, listening on 127.0.0.1 on a free
port, without persistence; stopped and removed on stop. It is the Celery broker.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.binary, self.port = binary, _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="compress-live-redis-"))
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def start(self, timeout: float = 30) -> RedisServer:
        # No snapshots, no append-only file: the broker's messages live as long as the test.
        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root)]
        command += ["--save", "", "--appendonly", "no", "--logfile", str(self.root / "redis.log")]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.root / "redis.log"
                raise RuntimeError(f"redis-server exited: {log.read_text() if log.exists() else ''}")
            with contextlib.suppress(OSError):
                if self.ping():
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout:g} s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
