"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

The provider's plugin (the "Model Studio" page) is not declared here but by the ``airflow.plugins``
entry point: Airflow loads the plugins of provider metadata only with ``[core]
lazy_discover_providers = False``, and an entry point always (``plugins/__init__.py``).

The connection form is declared here (``conn-fields``, ``ui-field-behaviour``), which Airflow
>=3.2 reads without importing the hook; on 3.1 the hooks' shared ``get_ui_field_behaviour`` serves it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_compress import __version__

PACKAGE_NAME = "airflow-provider-compress"
# The docs site (mkdocs.yml's site_url); also the Documentation project URL in pyproject.toml,
# from which Airflow shows the link.
DOCS_URL = "https://airflow-provider-compress.readthedocs.io/en/latest/"
HOOK_CLASS = "airflow_provider_compress.hooks.compress.CompressHook"


def _console_url(link: str, placeholder: str) -> dict[str, Any]:
    return {
        "label": f"Console URL: {link.lower()}",
        "description": f"Pattern of the {link!r} link, with {{{placeholder}}}. Empty: the region's console.",
        "schema": {"type": ["string", "null"]},
    }


CONN_FIELDS: dict[str, Any] = {
    "workspace_id": {
        "label": "Workspace ID",
        "description": "Model Studio workspace, sent as header X-DashScope-WorkSpace; empty: the default.",
        "schema": {"type": ["string", "null"]},
    },
    "lang": {
        "label": "Language",
        "description": "Language of template texts and error messages: zh-CN (default) or en-US.",
        "schema": {"type": ["string", "null"], "enum": ["zh-CN", "en-US", None]},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Per request, connect and read together.",
        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0.001, "maximum": 3600},
    },
    "retry_limit": {
        "label": "Retry: attempts",
        "description": "Tries per call for 429, 5xx, resets and timeouts (other errors are never retried).",
        "schema": {"type": ["integer", "null"], "default": 8, "minimum": 1, "maximum": 100},
    },
    "retry_delay": {
        "label": "Retry: first delay (seconds)",
        "description": "Backoff doubles from here, with jitter; a Retry-After header wins when longer.",
        "schema": {"type": ["number", "null"], "default": 1, "minimum": 0, "maximum": 3600},
    },
    "retry_max_delay": {
        "label": "Retry: longest delay (seconds)",
        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0, "maximum": 3600},
    },
    "retry_max_elapsed": {
        "label": "Retry: give up after (seconds)",
        "schema": {"type": ["number", "null"], "default": 300, "minimum": 0, "maximum": 86400},
    },
    "max_response_bytes": {
        "label": "Largest answer (bytes)",
        "description": "A larger answer (unpacked, or as sent) is refused as it arrives; default 16 MiB.",
        "schema": {"type": ["integer", "null"], "default": 16777216, "minimum": 65536, "maximum": 1073741824},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "http://[user:password@]host:port for this connection only; "
        "overrides HTTP(S)_PROXY and NO_PROXY. Empty: the environment's proxy settings.",
        "schema": {"type": ["string", "null"]},
    },
    "service_timezone": {
        "label": "Service time zone",
        "description": "Zone the API reads time filters in, e.g. +08:00 (default) or Asia/Shanghai.",
        "schema": {"type": ["string", "null"]},
    },
    "region": {
        "label": "Region",
        "description": "The region this host serves, e.g. cn-beijing, for a reverse proxy: the "
        "console of the links and the lineage namespace. Empty: the host's region (else cn-beijing).",
        "schema": {"type": ["string", "null"]},
    },
    "finetune_console_url": _console_url("Fine-tune job", "job_id"),
    "compress_console_url": _console_url("Compression job", "job_id"),
    "deployment_console_url": _console_url("Deployment", "deployed_model"),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "Base URL", "password": "API Key"},
    "placeholders": {
        "host": "https://dashscope.aliyuncs.com (or https://dashscope-intl.aliyuncs.com)",
        "password": "sk-...",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Alibaba Cloud Model Studio Compression",
        "description": "Fine-tune, compress and deploy models on Model Studio (DashScope, 百炼).",
        "versions": [__version__],
        "documentation-url": DOCS_URL,
        "integrations": [
            {
                "integration-name": "Alibaba Cloud Model Studio",
                "external-doc-url": "https://help.aliyun.com/zh/model-studio/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Alibaba Cloud Model Studio",
                "python-modules": [
                    "airflow_provider_compress.hooks.base",
                    "airflow_provider_compress.hooks.base_async",
                    "airflow_provider_compress.hooks.compress",
                    "airflow_provider_compress.hooks.finetune",
                    "airflow_provider_compress.hooks.deployment",
                    "airflow_provider_compress.hooks.files",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Alibaba Cloud Model Studio",
                "python-modules": [
                    "airflow_provider_compress.operators.compress",
                    "airflow_provider_compress.operators.finetune",
                    "airflow_provider_compress.operators.deployment",
                    "airflow_provider_compress.operators.files",
                    "airflow_provider_compress.operators.orphans",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Alibaba Cloud Model Studio",
                "python-modules": [
                    "airflow_provider_compress.sensors.base",
                    "airflow_provider_compress.sensors.compress",
                    "airflow_provider_compress.sensors.deployment",
                    "airflow_provider_compress.sensors.finetune",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Alibaba Cloud Model Studio",
                "python-modules": [
                    "airflow_provider_compress.triggers.base",
                    "airflow_provider_compress.triggers.compress",
                    "airflow_provider_compress.triggers.finetune",
                    "airflow_provider_compress.triggers.deployment",
                ],
            }
        ],
        # An Asset dashscope://<region>/<name> is the lineage dataset <name> of that region.
        "asset-uris": [
            {
                "schemes": ["dashscope"],
                "handler": "airflow_provider_compress.assets.sanitize_uri",
                "factory": "airflow_provider_compress.assets.create_asset",
                "to_openlineage_converter": "airflow_provider_compress.assets.convert_asset_to_openlineage",
            }
        ],
        "extra-links": [
            "airflow_provider_compress.links.console.FineTuneJobLink",
            "airflow_provider_compress.links.console.CompressJobLink",
            "airflow_provider_compress.links.console.DeploymentLink",
        ],
        "connection-types": [
            {
                "connection-type": "dashscope",
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Alibaba Cloud Model Studio (DashScope)",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
