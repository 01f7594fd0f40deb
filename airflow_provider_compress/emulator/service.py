"""The emulated account: ``Emulator`` holds the models, templates, compression jobs, fine-tune
jobs and deployments of one account, and answers each endpoint with a public method; the HTTP
layer (``app``) only turns requests into these calls and their results into answers.

Longer than 400 lines on purpose: the three resources share the account's models (a fine-tune's
output becomes compressible and deployable, a deleted job's model stays deployable), so their
rules are read side by side here. Shapes of requests are checked in ``checks``, the resources'
progress is ``machines``', the errors are ``errors``'.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from airflow_provider_compress.emulator import catalog, checks, machines
from airflow_provider_compress.emulator.errors import ApiError
from airflow_provider_compress.emulator.faults import KINDS, FaultPlan

FINE_TUNE_INPUTS = ("training_file_ids", "training_datasets", "validation_file_ids", "validation_datasets")


@dataclasses.dataclass
class Config:
    api_key: str = "sk-emulator"
    job_seconds: float = 30.0
    cancel_seconds: float = 1.0
    log_lines: int = 20
    workspaces: tuple[str, ...] = ()  # accepted X-DashScope-WorkSpace values; empty: any
    max_active_jobs: int | None = None  # more active jobs than this: 429 on create
    deploy_seconds: float | None = None  # time from create to RUNNING; default: job_seconds
    delete_seconds: float = 1.0  # time a deleted deployment stays DELETING
    deploy_capacity: int = 32  # model units available; a deployment beyond them ends FAILED
    fault_rate: float = 0.0  # fraction of API requests that get a random fault
    fault_kinds: tuple[str, ...] = KINDS
    slow_seconds: float = 35.0
    fault_seed: int | None = None


class Emulator:
    """All state of one emulated account: models, templates, jobs, injected faults, counters."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.faults = FaultPlan(
            rate=config.fault_rate,
            kinds=config.fault_kinds,
            slow_seconds=config.slow_seconds,
            seed=config.fault_seed,
        )
        self.reset()

    def reset(self) -> None:
        """The account as new: the seed catalogue, no resources, counters at zero, no queued
        fault. The configuration and the random fault plan stay: tests change them at run time."""
        self.templates = {t.template_id: t for t in catalog.seed_templates()}
        self.models = catalog.seed_models()
        # model id -> base model of what finished jobs produced: a deleted job record leaves its
        # model behind (section 5.7), so deleting the record must not make the model undeployable
        self.outputs: dict[str, str] = {}
        self.jobs: dict[str, machines.Job] = {}
        self.fine_tunes: dict[str, machines.FineTuneJob] = {}
        self.deployments: dict[str, machines.Deployment] = {}
        self.faults.queue.clear()
        self.faults.injected.clear()
        self.requests = 0
        self.last_request_id: str | None = None  # of the last API answer: tests match it
        # what was actually created, to prove there are no duplicates
        self.creates = 0
        self.fine_tune_creates = 0
        self.deployment_creates = 0
        # API requests by method and route ("POST /api/v1/fine-tunes/compress/jobs/{job_id}/cancel"):
        # what reached the API, e.g. that no cancel was sent or that every request came through a proxy
        self.calls: Counter[str] = Counter()
        # compress-job reads by endpoint and the job's status then ("logs RUNNING"): how many
        # requests a watcher makes per poll, before and after the job starts (benchmarks/)
        self.job_reads: Counter[str] = Counter()

    # --- what the HTTP layer reports and asks

    def authorized(self, authorization: str) -> bool:
        """Whether an Authorization header carries the account's key."""
        given = authorization.encode("utf-8", "replace")
        return secrets.compare_digest(given, f"Bearer {self.config.api_key}".encode())

    def count_request(self, route: str, request_id: str) -> None:
        """An API request reached ``route`` ("GET /api/v1/deployments"); its answer is ``request_id``."""
        self.requests += 1
        self.calls[route] += 1
        self.last_request_id = request_id

    def state(self, resources: bool = True) -> dict[str, Any]:
        """The counters, and every job, fine-tune and deployment unless ``resources`` is false."""
        counters = {
            "requests": self.requests,
            "last_request_id": self.last_request_id,
            "creates": self.creates,
            "fine_tune_creates": self.fine_tune_creates,
            "deployment_creates": self.deployment_creates,
            "job_reads": dict(self.job_reads),
            "calls": dict(self.calls),
        }
        if not resources:  # the counters only: cheap with thousands of jobs
            return counters
        return {
            **counters,
            "jobs": {j.job_id: {**j.to_api("en-US"), "log_total": len(j.lines)} for j in self._advanced()},
            "fine_tunes": {
                j.job_id: {**j.to_api("en-US"), "log_total": len(j.lines)}
                for j in self._advanced_fine_tunes()
            },
            "deployments": {
                d.deployed_model: {**d.to_api(), "billed_seconds": d.billed_seconds}
                for d in self._advanced_deployments()
            },
        }

    def full_log(self, job_id: str) -> list[str] | None:
        """Every line of a compression or fine-tune job's log so far; None for an unknown job."""
        job = self.jobs.get(job_id) or self.fine_tunes.get(job_id)
        if job is None:
            return None
        job.advance(self.clock(), self.config.cancel_seconds)
        return job.lines

    def set_timing(self, **seconds: Any) -> dict[str, float | None]:
        """How long jobs and deployments created from now on take (``job_seconds``,
        ``deploy_seconds``, ``cancel_seconds``); raises ValueError for anything but positive numbers."""
        names = ("job_seconds", "deploy_seconds", "cancel_seconds")
        if set(seconds) - set(names) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in seconds.values()
        ):
            raise ValueError("seconds must be positive numbers")
        self.config = dataclasses.replace(self.config, **seconds)
        return {name: getattr(self.config, name) for name in names}

    # --- helpers

    def _job(self, job_id: str) -> machines.Job:
        if not job_id.strip():
            raise ApiError("MissingJobId")
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError("JobNotFound", job_id=job_id)
        job.advance(self.clock(), self.config.cancel_seconds)
        return job

    def _register_outputs(self) -> None:
        """Finished fine-tunes of the compressible base become custom models the templates list."""
        for job in self._advanced_fine_tunes():
            output = job.output()
            full = job.training_type not in catalog.LORA_TRAINING
            if (
                job.status == "SUCCEEDED"
                and job.base_model == catalog.BASE_MODEL
                and full
                and output not in self.models
            ):
                self.models[output] = {
                    "zh-CN": f"微调模型 {job.job_name}",
                    "en-US": f"Fine-tune {job.job_name}",
                }

    def _model_error(self, model: str) -> ApiError | None:
        if model == catalog.BASE_MODEL:
            return ApiError("BaseModelNotSupported", model=model)
        if "-lora-" in model:
            return ApiError("LoraModelNotSupported", model=model)
        if "notready" in model:
            return ApiError("ModelNotReady", model=model)
        if "nodata" in model:
            return ApiError("ModelDataUnavailable", model=model)
        if model not in self.models:
            return ApiError("ModelNotSupported", model=model)
        return None

    # --- compression: templates and jobs

    def list_templates(self, lang: str, model: str | None) -> dict[str, Any]:
        self._register_outputs()
        if model in (None, "", catalog.BASE_MODEL):
            chosen = list(self.models)
        else:
            chosen = [m for m in self.models if m == model]
        return {
            "base_models": [catalog.BASE_MODEL],
            "custom_models": [
                {
                    "model": m,
                    "model_name": catalog.pick(self.models[m], lang),
                    "base_model": catalog.BASE_MODEL,
                    "templates": [t.to_api(lang) for t in self.templates.values() if t.supports(m)],
                }
                for m in chosen
            ],
        }

    def create_job(self, body: Any) -> machines.Job:
        fields = checks.job_body(body)
        model, template_id, job_name = fields["model"], fields["template_id"], fields["job_name"]
        self._register_outputs()
        error = self._model_error(model)
        if error:
            raise error
        template = self.templates.get(template_id)
        if template is None:
            raise ApiError("TemplateNotFound", template_id=template_id)
        if not template.supports(model):
            raise ApiError("TemplateNotSupported", model=model, template_id=template_id)
        if template.restricted:
            raise ApiError("TemplateAccessDenied", template_id=template_id)
        effective = checks.check_hyper_parameters(template, fields["hyper_parameters"])
        now = self.clock()
        if job_name is not None and any(j.job_name == job_name for j in self.jobs.values()):
            raise ApiError("JobNameDuplicated", job_name=job_name)
        limit = self.config.max_active_jobs
        if limit is not None:
            active = sum(1 for j in self._advanced() if j.status not in machines.TERMINAL)
            if active >= limit:
                raise ApiError("Throttling", retry_after=1)
        job_id = machines.new_job_id(now, self.jobs)
        job = machines.Job(
            job_id=job_id,
            job_name=job_name or f"compress-{job_id}",
            job_description=fields["job_description"],
            model=model,
            template=template,
            hyper_parameters=effective,
            calibration_files=fields["custom_calibration_file_ids"],
            suffix=fields["output_model_suffix"],
            created=now,
            duration=self.config.job_seconds,
            log_lines=self.config.log_lines,
            will_fail="fail" in model,
        )
        job.advance(now, self.config.cancel_seconds)
        self.jobs[job_id] = job
        self.creates += 1
        return job

    def _advanced(self) -> list[machines.Job]:
        now = self.clock()
        for job in self.jobs.values():
            job.advance(now, self.config.cancel_seconds)
        return list(self.jobs.values())

    def list_jobs(self, q: dict[str, str], lang: str) -> dict[str, Any]:
        query = checks.job_query(q)

        def fuzzy(needle: str | None, *hay: str) -> bool:
            return needle is None or any(needle.lower() in h.lower() for h in hay)

        search = q.get("search_key") or None
        searched = {"job_name": ("job_name",), "job_id": ("job_id",), None: ("job_name", "job_id")}[
            query.select_key
        ]
        jobs = [
            j
            for j in self._advanced()
            if (query.status is None or j.status == query.status)
            and q.get("model") in (None, "", j.model)
            and q.get("template_id") in (None, "", j.template.template_id)
            and q.get("quant_spec") in (None, "", j.template.quant_spec)
            and q.get("quant_method") in (None, "", j.template.quant_method)
            and (query.started_from is None or (j.start is not None and int(j.start) >= query.started_from))
            and (query.ended_by is None or (j.end is not None and int(j.end) <= query.ended_by))
            and fuzzy(q.get("job_name") or None, j.job_name)
            and fuzzy(q.get("job_id") or None, j.job_id)
            and fuzzy(search, *(getattr(j, f) for f in searched))
        ]
        jobs.sort(key=lambda j: (j.created, j.job_id), reverse=query.order == "desc")
        first = (query.page_no - 1) * query.page_size
        return {
            "total": len(jobs),
            "page_no": query.page_no,
            "page_size": query.page_size,
            "jobs": [j.to_api(lang, brief=True) for j in jobs[first : first + query.page_size]],
        }

    def get_job(self, job_id: str) -> machines.Job:
        job = self._job(job_id)
        self.job_reads[f"status {job.status}"] += 1
        return job

    def job_logs(self, job_id: str, q: dict[str, str]) -> dict[str, Any]:
        job = self._job(job_id)
        self.job_reads[f"logs {job.status}"] += 1
        return checks.log_page(job.lines, q)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        if job.status not in machines.CANCELLABLE:
            raise ApiError("JobState", job_id=job_id, status=job.status)
        job.cancel(self.clock())
        return {"status": "success"}

    def delete_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        if job.status not in machines.TERMINAL:
            raise ApiError("JobState", job_id=job_id, status=job.status)
        self._keep_output(job)
        del self.jobs[job_id]
        return {"status": "success"}

    # --- fine-tunes

    def _advanced_fine_tunes(self) -> list[machines.FineTuneJob]:
        now = self.clock()
        for job in self.fine_tunes.values():
            job.advance(now, self.config.cancel_seconds)
        return list(self.fine_tunes.values())

    def get_fine_tune(self, job_id: str) -> machines.FineTuneJob:
        job = self.fine_tunes.get(job_id)
        if job is None:
            raise ApiError("NotFound", detail=f"fine-tune job {job_id}")
        job.advance(self.clock(), self.config.cancel_seconds)
        return job

    def create_fine_tune(self, body: Any) -> machines.FineTuneJob:
        if not isinstance(body, dict):
            raise ApiError("InvalidParameter", detail="the body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ApiError("InvalidParameter", detail="Missing model")
        files = body.get("training_file_ids") or [
            d.get("file_id") or "oss" for d in body.get("training_datasets") or [] if isinstance(d, dict)
        ]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
            raise ApiError("InvalidParameter", detail="Missing training files")
        training_type = body.get("training_type") or "sft"
        if training_type not in catalog.TRAINING_TYPES:
            raise ApiError("InvalidParameter", detail=f"unknown training_type {training_type}")
        self._register_outputs()
        if model in catalog.CATALOG:
            base = model
        elif model in self.models:
            base = catalog.BASE_MODEL
        else:
            raise ApiError("NotFound", detail=f"Model: {model} not found!")
        if training_type not in catalog.CATALOG[base]:
            raise ApiError(
                "InvalidParameter", detail=f"training_type {training_type} is not supported by {base}"
            )
        hyper = body.get("hyper_parameters") or {}
        if not isinstance(hyper, dict):
            raise ApiError("InvalidParameter", detail="hyper_parameters must be an object")
        limit = self.config.max_active_jobs
        if (
            limit is not None
            and sum(j.status not in machines.TERMINAL for j in self._advanced_fine_tunes()) >= limit
        ):
            raise ApiError("Throttling", retry_after=1)
        now = self.clock()
        job_id = machines.new_job_id(now, self.fine_tunes, prefix="ft")
        job = machines.FineTuneJob(
            job_id=job_id,
            job_name=body.get("job_name") or job_id,
            model=model,
            base_model=base,
            created=now,
            duration=self.config.job_seconds,
            log_lines=self.config.log_lines,
            will_fail=any("bad" in f for f in files),
            training_type=training_type,
            training_files=files,
            inputs={k: body[k] for k in FINE_TUNE_INPUTS if body.get(k) is not None},
            hyper_parameters=hyper,
            model_name=body.get("model_name"),
            suffix=body.get("finetuned_output_suffix"),
        )
        job.advance(now, self.config.cancel_seconds)
        self.fine_tunes[job_id] = job
        self.fine_tune_creates += 1
        return job

    def list_fine_tunes(self, q: dict[str, str], lang: str) -> dict[str, Any]:
        page_no, page_size = checks.paging(q)
        jobs = [
            j
            for j in self._advanced_fine_tunes()
            if q.get("model") in (None, "", j.model) and q.get("status") in (None, "", j.status)
        ]
        jobs.sort(key=lambda j: (j.created, j.job_id), reverse=True)
        first = (page_no - 1) * page_size
        page = [j.to_api(lang) for j in jobs[first : first + page_size]]
        return {"total": len(jobs), "page_no": page_no, "page_size": page_size, "jobs": page}

    def fine_tune_logs(self, job_id: str, q: dict[str, str]) -> dict[str, Any]:
        return checks.log_page(self.get_fine_tune(job_id).lines, q)

    def cancel_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self.get_fine_tune(job_id)
        if job.status not in machines.CANCELLABLE:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}")
        job.cancel(self.clock())
        return {"status": "success"}

    def delete_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self.get_fine_tune(job_id)
        if job.status not in machines.TERMINAL:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}; cancel it first")
        self._register_outputs()  # a full fine-tune's model stays compressible too
        self._keep_output(job)
        del self.fine_tunes[job_id]
        return {"status": "success"}

    # --- deployments

    def _keep_output(self, job: machines.TimedJob) -> None:
        if job.status == "SUCCEEDED":
            self.outputs[job.output()] = job.base_model

    def _deployable(self) -> dict[str, str]:
        """model id -> base model, for everything a deployment may serve."""
        self._register_outputs()
        models = {m: m for m in catalog.CATALOG}
        models.update(dict.fromkeys(self.models, catalog.BASE_MODEL))
        for job in [*self._advanced_fine_tunes(), *self._advanced()]:
            self._keep_output(job)
        models.update(self.outputs)
        return models

    def _advanced_deployments(self) -> list[machines.Deployment]:
        now = self.clock()
        for name, deployment in list(self.deployments.items()):
            deployment.advance(now)
            if deployment.gone(now):
                del self.deployments[name]
        return list(self.deployments.values())

    def get_deployment(self, deployed_model: str) -> machines.Deployment:
        self._advanced_deployments()
        deployment = self.deployments.get(deployed_model)
        if deployment is None:
            raise ApiError("NotFound", detail=f"Model: {deployed_model} not found!")
        return deployment

    def create_deployment(self, body: Any) -> machines.Deployment:
        if not isinstance(body, dict):
            raise ApiError("InvalidParameter", detail="the body must be a JSON object")
        model_name, plan = body.get("model_name"), body.get("plan")
        if not isinstance(model_name, str) or not model_name.strip():
            raise ApiError("InvalidParameter", detail="Missing model_name")
        if plan not in ("mu", "ptu", "lora", "cu"):
            raise ApiError("InvalidParameter", detail="plan must be one of mu, ptu, lora, cu")
        deployable = self._deployable()
        if model_name not in deployable:
            raise ApiError("NotFound", detail=f"Model: {model_name} not found!")
        capacity = body.get("capacity")
        if plan == "lora" and "-lora" not in model_name:
            raise ApiError("InvalidParameter", detail="plan lora serves LoRA fine-tunes only; use mu")
        bad_capacity = not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 < capacity < 1000
        if plan in ("mu", "cu") and bad_capacity:
            raise ApiError("InvalidParameter", detail="capacity must be an integer >= 1 and < 1000")
        if plan == "mu":
            if not body.get("deploy_spec") and not body.get("template_id"):
                raise ApiError("InvalidParameter", detail="deploy_spec is required for plan mu")
            if body.get("billing_method", "POST_PAY") != "POST_PAY":
                raise ApiError("InvalidParameter", detail="billing_method supports only POST_PAY")
        if plan == "ptu" and not isinstance(body.get("ptu_capacity"), dict):
            raise ApiError("InvalidParameter", detail="Miss ptu capacity info")
        suffix = body.get("suffix")
        if suffix is not None and (
            not isinstance(suffix, str) or not checks.SUFFIX_PATTERN.fullmatch(suffix)
        ):
            raise ApiError("InvalidParameter", detail="suffix must be 1 to 8 lowercase letters or digits")
        active = [d for d in self._advanced_deployments() if d.status not in ("DELETING",)]
        if any(d.model_name == model_name and d.suffix == suffix for d in active):
            raise ApiError("Conflict", model=model_name)
        now = self.clock()
        random_part = secrets.token_hex(4)
        deployed_model = model_name if plan == "lora" else f"{model_name}-{random_part}"
        if suffix:
            deployed_model = f"{deployed_model}-{suffix}"
        units = capacity if isinstance(capacity, int) else 0
        in_use = sum(d.capacity for d in active if d.status not in ("FAILED", "STOPPED"))
        deployment = machines.Deployment(
            deployed_model=deployed_model,
            name=body.get("name") or deployed_model,
            model_name=model_name,
            base_model=deployable[model_name],
            plan=plan,
            capacity=units,
            suffix=suffix,
            unit_spec=body.get("deploy_spec") if plan == "mu" else None,
            created=now,
            duration=self.config.deploy_seconds or self.config.job_seconds,
            will_fail=in_use + units > self.config.deploy_capacity,
        )
        self.deployments[deployed_model] = deployment
        self.deployment_creates += 1
        return deployment

    def list_deployments(self, q: dict[str, str]) -> dict[str, Any]:
        page_no, page_size = checks.paging(q)
        items = sorted(
            self._advanced_deployments(), key=lambda d: (d.created, d.deployed_model), reverse=True
        )
        first = (page_no - 1) * page_size
        page = [d.to_api() for d in items[first : first + page_size]]
        return {"total": len(items), "page_no": page_no, "page_size": page_size, "deployments": page}

    def scale_deployment(self, deployed_model: str, body: Any) -> machines.Deployment:
        deployment = self.get_deployment(deployed_model)
        capacity = body.get("capacity") if isinstance(body, dict) else None
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
            raise ApiError("InvalidParameter", detail="capacity must be an integer >= 0 and < 1000")
        if deployment.plan == "lora":
            raise ApiError("UnsupportedOperation", detail="LoRA deployments are scaled in the console")
        if deployment.status != "RUNNING":
            raise ApiError("UnsupportedOperation", detail=f"{deployed_model} is {deployment.status}")
        now = self.clock()
        deployment.status, deployment.modified = "UPDATING", now
        deployment.new_capacity, deployment.update_until = capacity, now + 0.3 * deployment.duration
        return deployment

    def delete_deployment(self, deployed_model: str) -> machines.Deployment:
        deployment = self.get_deployment(deployed_model)
        now = self.clock()
        if deployment.status != "DELETING":
            deployment.stop_billing(now)
            deployment.status, deployment.modified = "DELETING", now
            deployment.delete_after = now + self.config.delete_seconds
        return deployment
