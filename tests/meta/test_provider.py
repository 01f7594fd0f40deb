"""The provider as Airflow sees it: metadata, registration, connection form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from importlib.metadata import entry_points

import jsonschema
import pytest

from airflow_provider_compress.get_provider_info import get_provider_info


def test_provider_info_passes_airflows_schema():
    schema = json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-compress"


def test_registered_through_the_entry_point():
    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_compress")
    ]
    assert entry.load()() == get_provider_info()


def airflow_cli(*args: str) -> str:
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=True,
    )
    return done.stdout


def test_airflow_lists_the_provider_and_its_hook():
    providers = json.loads(airflow_cli("providers", "list"))
    assert any(p["package_name"] == "airflow-provider-compress" for p in providers)
    hooks = json.loads(airflow_cli("providers", "hooks"))
    ours = [h for h in hooks if h["connection_type"] == "dashscope"]
    assert ours and ours[0]["class"] == "airflow_provider_compress.hooks.compress.CompressHook"
    assert ours[0]["package_name"] == "airflow-provider-compress"
    assert ours[0]["hook_name"] == "Alibaba Cloud Model Studio (DashScope)"


def test_connection_form_as_the_ui_gets_it():
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (ours,) = [h for h in HookMetaService.hook_meta_data() if h.connection_type == "dashscope"]
    assert ours.hook_name == "Alibaba Cloud Model Studio (DashScope)"
    fields = ours.standard_fields
    assert fields.host.title == "Base URL" and fields.password.title == "API Key" and fields.login.hidden
    assert {"workspace_id", "lang", "timeout", "retry_limit", "retry_delay"} <= set(ours.extra_fields)


def dashscope_hooks() -> list[type]:
    from airflow_provider_compress.hooks.compress import CompressAsyncHook, CompressHook
    from airflow_provider_compress.hooks.deployment import DeploymentAsyncHook, DeploymentHook
    from airflow_provider_compress.hooks.finetune import FineTuneAsyncHook, FineTuneHook

    return [
        CompressHook,
        CompressAsyncHook,
        FineTuneHook,
        FineTuneAsyncHook,
        DeploymentHook,
        DeploymentAsyncHook,
    ]


def test_every_hook_offers_the_one_connection_form_behaviour():
    """Airflow 3.1's UI asks a hook of the connection type for the form: every DashScope hook, sync
    or async, has it from their shared base."""
    from airflow_provider_compress.get_provider_info import UI_FIELD_BEHAVIOUR

    for hook in dashscope_hooks():
        behaviour = hook.get_ui_field_behaviour()
        assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"], hook
        assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"], hook


def test_dag_files_do_not_pay_for_the_http_clients_or_the_triggers():
    """Importing the operators and the sensor (what a DAG file does) loads no HTTP client library
    and no trigger: they are imported on first use (benchmarks/import_cost.py measures the time;
    tenacity comes with Airflow itself)."""
    probe = (
        "import sys\n"
        "import airflow_provider_compress.operators.compress, airflow_provider_compress.operators.finetune\n"
        "import airflow_provider_compress.operators.deployment, airflow_provider_compress.sensors.compress\n"
        "import airflow_provider_compress.operators.files, airflow_provider_compress.sensors.finetune\n"
        "import airflow_provider_compress.sensors.deployment\n"
        "heavy = ('aiohttp', 'requests', 'airflow_provider_compress.triggers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip().splitlines()[-1] == "[]"


def test_the_dashscope_asset_scheme_is_registered_and_checked():
    """asset-uris: an Asset dashscope://<region>/<name> is checked and normalized when a DAG
    defines it; the factory makes one from a lineage dataset's region and name (its conversion to
    that dataset: tests/airflow/test_links_and_lineage.py)."""
    from airflow.sdk import Asset

    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:  # Airflow < 3.2
        from airflow.providers_manager import ProvidersManager as Manager

    assert Asset("dashscope://cn-beijing/ws-1/models/m-1/").uri == "dashscope://cn-beijing/ws-1/models/m-1"
    for bad in (
        "dashscope://compressed-models",
        "dashscope://cn-beijing",
        "dashscope://cn-beijing/a/b/models",
    ):
        with pytest.raises(ValueError, match="dashscope:// Asset URIs"):
            Asset(bad)
    factory = Manager().asset_factories["dashscope"]
    assert (
        factory(region="ap-southeast-1", name="files/file-1").uri == "dashscope://ap-southeast-1/files/file-1"
    )


def test_the_plugin_is_registered_by_its_entry_point_and_airflow_loads_it():
    """The "Model Studio" page and its API: through the ``airflow.plugins`` entry point, which Airflow
    always reads, and not also in the provider metadata (read only with lazy_discover_providers
    off, where a second registration of one plugin name is an import error)."""
    (entry,) = [
        e for e in entry_points(group="airflow.plugins") if e.value.startswith("airflow_provider_compress")
    ]
    assert entry.value == "airflow_provider_compress.plugins:ModelStudioPlugin"
    assert "plugins" not in get_provider_info()
    (ours,) = [p for p in json.loads(airflow_cli("plugins")) if p["name"] == "dashscope"]
    assert [app["url_prefix"] for app in ours["fastapi_apps"]] == ["/dashscope"]
    (page,) = ours["react_apps"]
    assert (page["name"], page["destination"], page["url_route"]) == ("Model Studio", "nav", "model-studio")
    assert page["bundle_url"].endswith("/dashscope/app.js")


def test_loading_the_plugin_builds_no_web_app():
    """Every process that loads plugins (workers, the scheduler) imports the plugin's module; only
    the api-server, asking for its apps, builds the FastAPI app and imports Airflow's API code."""
    probe = (
        "import sys\n"
        "from airflow_provider_compress.plugins import ModelStudioPlugin\n"
        "plugin = ModelStudioPlugin()\n"
        "heavy = ('airflow_provider_compress.plugins.app', 'airflow.api_fastapi.core_api.security')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip().splitlines()[-1] == "[]"
