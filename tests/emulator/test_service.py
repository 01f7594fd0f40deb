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


def test_usage_is_reported_at_the_end_or_while_running_when_asked():
    """As documented, ``usage`` appears once a job SUCCEEDED or was CANCELED; with
    ``usage_while_running`` a running job reports the seconds (tokens) it ran so far too."""
    clock = Clock()
    for early in (False, True):
        emulator = Emulator(Config(job_seconds=100, usage_while_running=early), clock)
        job = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE})
        tune = emulator.create_fine_tune({"model": BASE_MODEL, "training_file_ids": ["file-1"]})
        clock.now += 50  # RUNNING since 20 s after the create
        running = emulator.get_job(job.job_id).to_api("en-US")
        tuning = emulator.get_fine_tune(tune.job_id).to_api("en-US")
        assert running["status"] == "RUNNING"
        assert (running.get("usage"), tuning.get("usage")) == ((30, 30_000) if early else (None, None))
        clock.now += 60
        assert emulator.get_job(job.job_id).to_api("en-US")["usage"] == 80  # from start to end


def test_a_job_runs_start_seconds_after_its_create_when_asked():
    clock = Clock()
    emulator = Emulator(Config(job_seconds=1000, start_seconds=4), clock)
    job = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE})
    seen = []
    for _ in range(5):
        seen.append(emulator.get_job(job.job_id).status)
        clock.now += 1.5
    assert seen == ["PENDING", "PENDING", "QUEUING", "RUNNING", "RUNNING"]  # at 0, 1.5, 3, 4.5, 6 s
