"""Every trigger test closes the async hooks' shared sessions of its event loop."""

from __future__ import annotations

import pytest

from airflow_provider_compress.hooks.compress import close_async_clients


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await close_async_clients()
