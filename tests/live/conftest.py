"""The live stack the live test modules share (one per session: starting it costs a minute)."""

from __future__ import annotations

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support.live_stack import AUDIT_KEY, Stack
from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("live-airflow")
    with (
        PostgresCluster() as db,
        EmulatorProcess(api_key=AUDIT_KEY, job_seconds=25, log_lines=10, cancel_seconds=1) as emulator,
        EmulatorProcess(api_key=AUDIT_KEY, job_seconds=60, log_lines=30, cancel_seconds=1) as slow,
        Stack.up(home, db, emulator, slow=slow) as live,
    ):
        yield live
