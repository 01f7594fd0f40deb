"""A statsd server for tests: a UDP socket on 127.0.0.1 that keeps every metric Airflow sends to it
(``[metrics] statsd_on``), read in a thread."""

from __future__ import annotations

import collections
import socket
import threading


class StatsdListener:
    """``with StatsdListener() as statsd: env.update(statsd.airflow_env())``, then ``statsd.counts()``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="statsd-listener", daemon=True)

    def __enter__(self) -> StatsdListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.lines += packet.decode("utf-8", "replace").splitlines()

    def airflow_env(self) -> dict[str, str]:
        """The environment that points Airflow's statsd client here."""
        return {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }

    def samples(self, prefix: str = "") -> list[tuple[str, float, str]]:
        """(name, value, type) of every metric received whose name starts with ``prefix``."""
        found = []
        for line in list(self.lines):
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if name.startswith(prefix) and value:
                found.append((name, float(value), kind.split("|")[0]))
        return found

    def counts(self, prefix: str = "") -> dict[str, float]:
        """The counters whose name starts with ``prefix``, summed by name."""
        totals: collections.Counter[str] = collections.Counter()
        for name, value, kind in self.samples(prefix):
            if kind == "c":
                totals[name] += value
        return dict(totals)

    def timings(self, prefix: str = "") -> dict[str, list[float]]:
        """The timings (ms) whose name starts with ``prefix``, by name."""
        found: dict[str, list[float]] = collections.defaultdict(list)
        for name, value, kind in self.samples(prefix):
            if kind == "ms":
                found[name].append(value)
        return dict(found)
