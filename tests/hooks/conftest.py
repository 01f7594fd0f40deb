"""The hook tests run twice, through the sync hook and through its async twin (``transport``), to
show that both transports behave the same."""

from __future__ import annotations

import pytest

from tests.support import Twin


@pytest.fixture(params=["sync", "async"])
def transport(request):
    return request.param


@pytest.fixture
def hook(transport, conn):
    return Twin(transport)


@pytest.fixture
def slow_hook(transport, slow_conn):
    return Twin(transport)
