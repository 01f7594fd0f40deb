"""``service.Emulator`` in process, on a clock of the test's: what a reset forgets and what it keeps."""

from __future__ import annotations

from airflow_provider_compress.emulator.faults import Fault
from airflow_provider_compress.emulator.service import Config, Emulator
from tests.support import BASE_MODEL, PLAIN_TEMPLATE, SFT_MODEL


class Clock:
    def __init__(self) -> None:
        self.now = 1_775_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_reset_makes_the_account_as_new():
    """Everything the constructor makes, a reset makes again: the models a fine-tune added too."""
    clock = Clock()
    emulator, new = Emulator(Config(job_seconds=10), clock), Emulator(Config(job_seconds=10), clock)
    fine_tune = emulator.create_fine_tune({"model": BASE_MODEL, "training_file_ids": ["file-1"]})
    clock.now += 11
    tuned = emulator.get_fine_tune(fine_tune.job_id).output()
    listed = emulator.list_templates("en-US", None)["custom_models"]
    assert tuned in [model["model"] for model in listed]  # a full fine-tune is compressible
    emulator.create_job({"model": tuned, "template_id": PLAIN_TEMPLATE})
    emulator.create_deployment({"model_name": SFT_MODEL, "plan": "mu", "capacity": 1, "deploy_spec": "MU1"})
    emulator.count_request("GET /api/v1/deployments", "r-1")
    emulator.faults.queue.append(Fault("503"))
    emulator.faults.draw("GET")
    emulator.faults.queue.append(Fault("429"))

    emulator.reset()
    assert emulator.state() == new.state()
    assert emulator.list_templates("en-US", None) == new.list_templates("en-US", None)
    assert emulator.faults.summary() == new.faults.summary()


def test_a_reset_keeps_the_timing_and_the_random_fault_plan_a_test_set():
    emulator = Emulator(Config())
    emulator.set_timing(job_seconds=5)
    emulator.faults.configure(rate=0.5, seed=3)
    emulator.reset()
    assert emulator.config.job_seconds == 5
    assert (emulator.faults.rate, emulator.faults.seed) == (0.5, 3)


def test_states_follow_the_clock():
    """Every state, the short ones too, at the times the emulator's rules give (a fake clock)."""
    clock = Clock()
    start = clock.now
    emulator = Emulator(Config(job_seconds=10, cancel_seconds=1), clock)
    done = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).job_id
    cancelled = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).job_id
    seen: dict = {}
    for at in (0, 1, 2, 5, 10):
        clock.now = start + at
        seen[at] = emulator.get_job(done).status
        if at == 5:
            emulator.cancel_job(cancelled)
        if at in (5, 10):
            seen[f"cancel {at}"] = emulator.get_job(cancelled).status
    assert seen == {
        0: "PENDING",
        1: "QUEUING",
        2: "RUNNING",
        5: "RUNNING",
        "cancel 5": "CANCELING",
        10: "SUCCEEDED",
        "cancel 10": "CANCELED",
    }
