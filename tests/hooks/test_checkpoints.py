"""Fine-tune checkpoints through FineTuneHook against the emulator: listed, exported, refused."""

from __future__ import annotations

import pytest

from airflow_provider_compress.exceptions import BadRequestError, NotFoundError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from tests.support import BASE_MODEL, PLAIN_TEMPLATE
from tests.support.files import finished, wait_until


def test_checkpoints_are_listed_and_an_exported_one_compresses(conn):
    hook = FineTuneHook()
    done = finished(hook.create_job(model=BASE_MODEL, training_file_ids=["file-ckpt"]).job_id)
    checkpoints = hook.list_checkpoints(done.job_id)
    # 10 progress lines in this emulator, a checkpoint saved with lines 4, 7 and 10; the newest first
    assert [c.checkpoint for c in checkpoints] == ["checkpoint-100", "checkpoint-70", "checkpoint-40"]
    assert (checkpoints[0].status, checkpoints[0].model_name) == ("SUCCEEDED", done.finetuned_output)
    assert [(c.status, c.model_name) for c in checkpoints[1:]] == [("PENDING", None)] * 2
    assert checkpoints[2].full_name == f"{done.job_id}:checkpoint-40"
    assert hook.export_checkpoint(done.job_id, "checkpoint-40", model_name="early") is True
    assert hook.list_checkpoints(done.job_id)[2].status in ("PROCESSING", "SUCCEEDED")  # 1 s later
    exported = wait_until(lambda: hook.list_checkpoints(done.job_id)[2].model_name)
    assert exported == f"{done.finetuned_output}-c40"
    job = CompressHook().create_job(model=exported, template_id=PLAIN_TEMPLATE)  # a custom model now
    assert job.model == exported


def test_exports_the_api_refuses(conn):
    hook = FineTuneHook()
    running = hook.create_job(model=BASE_MODEL, training_file_ids=["file-x"])
    with pytest.raises(BadRequestError):  # not trained yet
        hook.export_checkpoint(running.job_id, "checkpoint-100")
    dpo = finished(
        hook.create_job(model="qwen3-8b", training_file_ids=["file-x"], training_type="dpo_full").job_id
    )
    with pytest.raises(BadRequestError):  # only sft and efficient_sft checkpoints export
        hook.export_checkpoint(dpo.job_id, "checkpoint-100")
    with pytest.raises(NotFoundError):
        hook.export_checkpoint(finished(running.job_id).job_id, "checkpoint-1")


def test_a_lora_output_is_named_as_documented_and_still_known_as_lora(conn):
    """No "-lora" in the name (fact sheet B.10): the emulator knows LoRA outputs by how they were made."""
    lora = finished(
        FineTuneHook()
        .create_job(model="qwen3-8b", training_file_ids=["file-x"], training_type="efficient_sft")
        .job_id
    )
    assert lora.finetuned_output == f"qwen3-8b-{lora.job_id}"
    with pytest.raises(BadRequestError, match="LoRA"):
        CompressHook().create_job(model=lora.finetuned_output, template_id=PLAIN_TEMPLATE)
    deployed = DeploymentHook().create_deployment(model_name=lora.finetuned_output, plan="lora", capacity=1)
    assert deployed.deployed_model == lora.finetuned_output
    DeploymentHook().delete_deployment(deployed.deployed_model)
