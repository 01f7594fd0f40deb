"""The provider's Airflow plugin (Airflow 3.1+): a "Model Studio" page in the UI's navigation
(a React app) and the FastAPI app under ``/dashscope`` that it reads (``plugins.app``).

Registered through the ``airflow.plugins`` entry point, which every Airflow process reads:
plugins declared in the provider's metadata (``get_provider_info``) are loaded only with
``[core] lazy_discover_providers = False``. The app is built on first use, in the api-server:
other processes that load plugins (workers, the scheduler) import nothing of it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_compress import _compat

URL_PREFIX = "/dashscope"
PAGE_ROUTE = "model-studio"


def _base_path() -> str:
    """The path Airflow is served under (``[api] base_url``), without its last slash."""
    return urlsplit(_compat.api_base_url()).path.rstrip("/")


class ModelStudioPlugin(AirflowPlugin):
    name = "dashscope"

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from airflow_provider_compress.plugins.app import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Model Studio work"}]

    @cached_property
    def react_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [
            {
                "name": "Model Studio",
                # absolute: Airflow 3.1 imports it relative to its own script, 3.3 to the page
                "bundle_url": f"{_base_path()}{URL_PREFIX}/app.js",
                "destination": "nav",
                "url_route": PAGE_ROUTE,
                "category": "browse",
            }
        ]
