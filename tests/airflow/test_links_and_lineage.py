"""Console links and OpenLineage of every example DAG, as a user gets them.

Each example DAG runs once with `airflow dags test` against the emulator (the home, emulator and
runs tests/airflow/test_example_dags.py shares: tests/airflow/conftest.py), with Airflow's
OpenLineage provider (the ``openlineage`` extra) writing the events its listener emits to a file.
Then: the links every task with a remote resource stored, and for each task of the provider the
datasets of its COMPLETE (or FAIL) event: every edge (inputs, outputs), the namespace of the
region, the facets (type, documentation with the console link, lifecycle change, upload source),
and the Asset of the provider's URI scheme naming the same dataset. The links' and the lineage's
own rules are checked in tests/operators/test_links.py and test_lineage.py.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from tests.support import MAINLAND, PAGES, has_openlineage
from tests.support.airflow_home import EXAMPLES

pytestmark = pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")

NAMESPACE = "dashscope://cn-beijing"  # the emulator's host is no region's: the API's default one
BASE = "qwen3.5-flash-2026-02-23"
SFT = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
NEWEST = "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4"
FAILING = "qwen3.5-flash-2026-02-23-ft-202603150000-fail"
LINKS = {
    "job_id": {"fine_tune": FineTuneJobLink, "compress": CompressJobLink},
    "deployed_model": DeploymentLink,
}


def xcoms(examples, dag_id: str, task_id: str, key: str = "return_value") -> list:
    """Every value ``task_id`` pushed under ``key``, by map index."""
    rows = examples.airflow.query(
        "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ? ORDER BY map_index",
        dag_id,
        task_id,
        key,
    )
    return [json.loads(value) for (value,) in rows]


def edges(examples, dag_id: str) -> dict[str, list[tuple[list[str], list[str]]]]:
    """The inputs and outputs of each ended task of the provider (a list: one per map index),
    after the checks every dataset of the provider passes."""
    found = {}
    for task_id, events in examples.events(dag_id).items():
        if "unknownSourceAttribute" in events[0]["run"]["facets"]:  # a @task: no lineage of ours
            continue
        found[task_id] = [(names(e["inputs"]), names(e["outputs"])) for e in events]
    return found


def names(datasets: list[dict]) -> list[str]:
    for d in datasets:
        assert d["namespace"] == NAMESPACE, d
        facets = d["facets"]
        assert facets["datasetType"]["datasetType"] in ("MODEL", "FILE"), d
        kind = "deployment" if d["name"].startswith("deployments/") else d["name"].split("s/", 1)[0]
        assert facets["documentation"]["description"].startswith(f"Model Studio {kind} "), d
    return [d["name"] for d in datasets]


def output(examples, dag_id: str, task_id: str) -> dict:
    (event,) = examples.events(dag_id)[task_id]
    (dataset,) = event["outputs"]
    return dataset


def remote_id(examples, dag_id: str, task_id: str) -> str:
    (event,) = examples.events(dag_id)[task_id]
    return event["run"]["facets"]["externalQuery"]["externalQueryId"]


def test_the_pipeline_chains_upload_fine_tune_compress_deploy_scale(examples):
    dag_id = "example_compress_pipeline"
    run = examples.run(dag_id)
    (training,) = xcoms(examples, dag_id, "upload_training_data")
    (calibration,) = xcoms(examples, dag_id, "upload_calibration_data")
    (tuned,) = xcoms(examples, dag_id, "fine_tune")
    (compressed,) = xcoms(examples, dag_id, "compress")
    (deployed,) = xcoms(examples, dag_id, "deploy")
    assert edges(examples, dag_id) == {
        "upload_training_data": [([], [f"files/{training}"])],
        "upload_calibration_data": [([], [f"files/{calibration}"])],
        "fine_tune": [([f"models/{BASE}", f"files/{training}"], [f"models/{tuned}"])],
        "compress": [([f"models/{tuned}", f"files/{calibration}"], [f"models/{compressed}"])],
        "deploy": [([f"models/{compressed}"], [f"deployments/{deployed}"])],
        "scale": [([], [f"deployments/{deployed}"])],
    }, run.output[-3000:]
    # an upload's output names the local file it read; the scale changed the deployment
    for task_id, path in (
        ("upload_training_data", "train.jsonl"),
        ("upload_calibration_data", "calibration.jsonl"),
    ):
        (source,) = output(examples, dag_id, task_id)["facets"]["symlinks"]["identifiers"]
        assert source == {"namespace": "file", "name": str(EXAMPLES / "data" / path), "type": "FILE"}
    scaled = output(examples, dag_id, "scale")["facets"]
    assert scaled["lifecycleStateChange"]["lifecycleStateChange"] == "ALTER"
    assert scaled["datasetType"] == {
        "datasetType": "MODEL",
        "subType": "DEPLOYMENT",
        **meta(scaled["datasetType"]),
    }
    # each output made by a job or deployment links to it in the console; the run names the remote id
    ids = {
        "fine_tune": xcoms(examples, dag_id, "fine_tune", "job_id")[0],
        "compress": xcoms(examples, dag_id, "compress", "job_id")[0],
        "deploy": deployed,
    }
    for task_id, resource_id in ids.items():
        assert remote_id(examples, dag_id, task_id) == resource_id
        described = output(examples, dag_id, task_id)["facets"]["documentation"]["description"]
        assert described.endswith(MAINLAND + PAGES[task_id].format(resource_id)), described
    # the fine-tune's hyper-parameters came from a .json template (template_ext), rendered with its params
    (job_id,) = xcoms(examples, dag_id, "fine_tune", "job_id")
    hyper_parameters = run.state["fine_tunes"][job_id]["hyper_parameters"]
    assert hyper_parameters == {"n_epochs": 1, "learning_rate": 0.0001, "batch_size": 16}


def meta(facet: dict) -> dict:
    return {k: v for k, v in facet.items() if k.startswith("_")}


def test_the_asset_is_the_lineage_dataset_of_its_uri(examples):
    """The pipeline's Asset (dashscope://cn-beijing/models) and an Asset of one compressed model
    are, through the provider info's asset-uris, the datasets the compress task reports."""
    from airflow.providers.common.compat.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    dag_id = "example_compress_pipeline"
    examples.run(dag_id)
    (compressed,) = xcoms(examples, dag_id, "compress")
    collection = translate_airflow_asset(Asset(name="compressed_models", uri=f"{NAMESPACE}/models"), None)
    assert (collection.namespace, collection.name) == (NAMESPACE, "models")
    model = translate_airflow_asset(Asset(f"{NAMESPACE}/models/{compressed}"), None)
    made = output(examples, dag_id, "compress")
    assert (model.namespace, model.name) == (made["namespace"], made["name"])


def test_deploying_on_the_asset_deploys_the_compressed_model(examples):
    """Run by hand with the pipeline's compressed model, as the asset event would bring it."""
    examples.run("example_compress_pipeline")
    (compressed,) = xcoms(examples, "example_compress_pipeline", "compress")
    dag_id = "example_deploy_on_asset"
    run = examples.run(dag_id, model=compressed)
    (deployed,) = xcoms(examples, dag_id, "deploy")
    assert edges(examples, dag_id) == {"deploy": [([f"models/{compressed}"], [f"deployments/{deployed}"])]}, (
        run.output[-3000:]
    )


def test_mapped_compressions_each_report_their_model_and_a_failed_one_no_output(examples):
    dag_id = "example_compress_mapped"
    run = examples.run(dag_id)
    compressed = xcoms(examples, dag_id, "compress")  # the failed index pushed nothing
    deployed = xcoms(examples, dag_id, "deploy")
    found = edges(examples, dag_id)
    assert sorted(found["compress"]) == sorted(
        [
            ([f"models/{SFT}"], [f"models/{compressed[0]}"]),
            ([f"models/{NEWEST}"], [f"models/{compressed[1]}"]),
            ([f"models/{FAILING}"], []),
        ]
    ), run.output[-3000:]
    failed = [e for e in examples.events(dag_id)["compress"] if e["eventType"] == "FAIL"]
    assert [names(e["inputs"]) for e in failed] == [[f"models/{FAILING}"]]
    made = {model: d for d, model in ((d, run.state["deployments"][d]["model_name"]) for d in deployed)}
    assert sorted(found["deploy"]) == sorted(
        ([f"models/{model}"], [f"deployments/{made[model]}"]) for model in compressed
    )


def test_the_nightly_compression_reads_the_newest_model(examples):
    dag_id = "example_compress_nightly"
    run = examples.run(dag_id)
    (compressed,) = xcoms(examples, dag_id, "compress")
    assert xcoms(examples, dag_id, "newest_model") == [NEWEST]
    assert edges(examples, dag_id) == {"compress": [([f"models/{NEWEST}"], [f"models/{compressed}"])]}, (
        run.output[-3000:]
    )


def test_the_sensor_reports_what_the_job_it_watched_made(examples):
    """The compress task that does not wait reports its input only; the sensor the output; the
    trial deployment is made and dropped; cancel and delete of the job report its id only."""
    dag_id = "example_compress_sensor"
    run = examples.run(dag_id)
    (job_id,) = xcoms(examples, dag_id, "start")
    (compressed,) = xcoms(examples, dag_id, "wait")
    (deployed,) = xcoms(examples, dag_id, "trial_deploy")
    found = edges(examples, dag_id)
    found.pop("cancel", None)  # skipped: whether a skipped task has an event depends on the provider
    assert found == {
        "start": [([f"models/{SFT}"], [])],
        "wait": [([f"models/{SFT}"], [f"models/{compressed}"])],
        "delete_job_record": [([], [])],
        "trial_deploy": [([f"models/{compressed}"], [f"deployments/{deployed}"])],
        "undeploy": [([], [f"deployments/{deployed}"])],
    }, run.output[-3000:]
    for task_id in ("start", "wait", "delete_job_record"):
        assert remote_id(examples, dag_id, task_id) == job_id, task_id
    described = output(examples, dag_id, "wait")["facets"]["documentation"]["description"]
    assert described.endswith(MAINLAND + PAGES["compress"].format(job_id))
    dropped = output(examples, dag_id, "undeploy")["facets"]["lifecycleStateChange"]
    assert dropped["lifecycleStateChange"] == "DROP"


def test_the_exported_checkpoint_has_a_producer(examples):
    """upload -> fine-tune (not waited for) -> the sensor's fine-tuned model; the export reads
    what the fine-tune read and makes the checkpoint's model, which the compression reads."""
    dag_id = "example_finetune_checkpoint"
    run = examples.run(dag_id)
    (training,) = xcoms(examples, dag_id, "upload_training_data")
    (job_id,) = xcoms(examples, dag_id, "start")
    (tuned,) = xcoms(examples, dag_id, "wait_for_training")
    (exported,) = xcoms(examples, dag_id, "export")
    (compressed,) = xcoms(examples, dag_id, "compress")
    data = [f"models/{BASE}", f"files/{training}"]
    assert edges(examples, dag_id) == {
        "upload_training_data": [([], [f"files/{training}"])],
        "start": [(data, [])],
        "wait_for_training": [(data, [f"models/{tuned}"])],
        "export": [(data, [f"models/{exported}"])],
        "compress": [([f"models/{exported}"], [f"models/{compressed}"])],
    }, run.output[-3000:]
    for task_id in ("start", "wait_for_training", "export"):
        assert remote_id(examples, dag_id, task_id) == job_id, task_id


def test_the_deployment_is_made_watched_changed_and_dropped(examples):
    dag_id = "example_deploy_scale"
    run = examples.run(dag_id)
    (deployed,) = xcoms(examples, dag_id, "deploy")
    assert edges(examples, dag_id) == {
        "deploy": [([f"models/{SFT}"], [])],  # returned at once: the deployment was not RUNNING yet
        "running": [([f"models/{SFT}"], [f"deployments/{deployed}"])],
        "scale_up": [([], [f"deployments/{deployed}"])],
        "undeploy": [([], [f"deployments/{deployed}"])],
    }, run.output[-3000:]
    changes = {
        t: output(examples, dag_id, t)["facets"]["lifecycleStateChange"] for t in ("scale_up", "undeploy")
    }
    assert {t: c["lifecycleStateChange"] for t, c in changes.items()} == {
        "scale_up": "ALTER",
        "undeploy": "DROP",
    }


@pytest.mark.parametrize(
    ("dag_id", "task_ids", "key"),
    [
        (
            "example_compress_sensor",
            {"start": "compress", "wait": "compress", "delete_job_record": "compress"},
            "job_id",
        ),
        ("example_compress_sensor", {"trial_deploy": "deploy", "undeploy": "deploy"}, "deployed_model"),
        (
            "example_finetune_checkpoint",
            {"start": "fine_tune", "wait_for_training": "fine_tune", "export": "fine_tune"},
            "job_id",
        ),
        (
            "example_deploy_scale",
            {t: "deploy" for t in ("deploy", "running", "scale_up", "undeploy")},
            "deployed_model",
        ),
    ],
)
def test_every_task_with_a_remote_resource_stores_its_console_link(examples, dag_id, task_ids, key):
    """Creates, sensors, export, scale and deletes: the link to the console page of the job or
    deployment (the emulator's host is no region's: the API's default, mainland console)."""
    examples.run(dag_id)
    first = next(iter(task_ids))
    (resource_id,) = xcoms(examples, dag_id, first, key) or xcoms(examples, dag_id, first)
    for task_id, page in task_ids.items():
        link = LINKS[key][page] if key == "job_id" else LINKS[key]
        assert xcoms(examples, dag_id, task_id, link().xcom_key) == [
            MAINLAND + PAGES[page].format(resource_id)
        ], task_id
