"""The Model Studio region a connection serves: it picks the console the extra links open and
names the namespace of the lineage datasets, so that every host of one region (the API's own, a
workspace gateway, a reverse proxy that declares it) gives the same ones.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAINLAND = "cn-beijing"
INTERNATIONAL = "ap-southeast-1"  # Singapore
_HOSTS = {"dashscope.aliyuncs.com": MAINLAND, "dashscope-intl.aliyuncs.com": INTERNATIONAL}
# Workspace-scoped gateways: {WorkspaceId}.{region}.maas.aliyuncs.com
_GATEWAY = re.compile(r"^[^.]+\.([a-z0-9-]+)\.maas\.aliyuncs\.com$")
# What a region id looks like (cn-beijing, ap-southeast-1, us-east-1): the rule of the extra.
REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+$")
MAINLAND_CONSOLE = "https://bailian.console.aliyun.com"
INTERNATIONAL_CONSOLE = "https://bailian.console.alibabacloud.com"


def region_of(base_url: str) -> str | None:
    """``cn-beijing``, ``ap-southeast-1``...; None for another host (a reverse proxy, the emulator)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host in _HOSTS:
        return _HOSTS[host]
    match = _GATEWAY.match(host)
    return match.group(1) if match else None


def serving_region(base_url: str, declared: str | None = None) -> str:
    """The region a connection serves: the one it declares (extra ``region``), else its host's,
    else the API's default host's (mainland China), as for a host without a region."""
    return declared or region_of(base_url) or MAINLAND


def console_of(region: str | None) -> str:
    """The console of a region; the mainland one (the API's default host) when it is unknown."""
    return MAINLAND_CONSOLE if region is None or region.startswith("cn-") else INTERNATIONAL_CONSOLE
