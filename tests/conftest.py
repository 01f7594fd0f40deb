"""Shared fixtures: emulators over real HTTP on 127.0.0.1, and connections pointing at them."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Airflow writes its config and database under AIRFLOW_HOME: keep tests away from ~/airflow.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="compress-tests-airflow-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import RawClient, use_connection


@pytest.fixture(scope="session")
def emulator():
    """Jobs take 2 s: long enough to be seen RUNNING, short enough to wait for."""
    with EmulatorProcess(job_seconds=2, cancel_seconds=0.3, log_lines=10) as emu:
        yield emu


@pytest.fixture(scope="session")
def slow_emulator():
    """Jobs take 10 minutes: they stay active for the whole test, for cancel and filter tests."""
    with EmulatorProcess(job_seconds=600, cancel_seconds=0.3, workspace=["ws-allowed"]) as emu:
        yield emu


@pytest.fixture
def conn(monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    return emulator


@pytest.fixture
def slow_conn(monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator)
    return slow_emulator


@pytest.fixture
def fresh_conn(monkeypatch, emulator):
    """The fast emulator, connected, with nothing left queued afterwards (a test may leave answers
    it queued unused)."""
    use_connection(monkeypatch, emulator)
    yield emulator
    emulator.reset()


@pytest.fixture
def raw(slow_emulator):
    return RawClient(slow_emulator)
