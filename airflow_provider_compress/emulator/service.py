"""The emulated account: ``Emulator`` holds the models, templates, compression jobs, fine-tune
jobs, files and deployments of one account, and answers each endpoint with a public method; the
HTTP layer (``app``) only turns requests into these calls and their results into answers.

Longer than 400 lines on purpose: the resources share the account's models (a fine-tune's output
or exported checkpoint becomes compressible and deployable, a deleted job's model stays
deployable, an uploaded file feeds a job), so their rules are read side by side here. Shapes of
requests are checked in ``checks``, the resources' progress is ``machines``' and
``deployments``', files are ``uploads``', the errors are ``errors``'.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from airflow_provider_compress.emulator import catalog, checks, deployments, machines, uploads
from airflow_provider_compress.emulator.errors import ApiError
from airflow_provider_compress.emulator.faults import KINDS, FaultPlan
from airflow_provider_compress.emulator.misbehaviour import Misbehaviour

FINE_TUNE_INPUTS = ("training_file_ids", "training_datasets", "validation_file_ids", "validation_datasets")


@dataclasses.dataclass
class Config:
    api_key: str = "sk-emulator"
    job_seconds: float = 30.0
    cancel_seconds: float = 1.0
    log_lines: int = 20
    workspaces: tuple[str, ...] = ()  # accepted X-DashScope-WorkSpace values; empty: any
    max_active_jobs: int | None = None  # more active jobs than this: 429 on create
    usage_while_running: bool = False  # report `usage` while a job runs (documented: at the end only)
    start_seconds: float | None = None  # time from a job's create to RUNNING; default: 20 % of it
    deploy_seconds: float | None = None  # time from create to RUNNING; default: job_seconds
    delete_seconds: float = 1.0  # time a deleted deployment stays DELETING
    export_seconds: float = 1.0  # time a fine-tune checkpoint's export stays PROCESSING
    deploy_capacity: int = 32  # model units available; a deployment beyond them ends FAILED
    # statuses in which a delete is refused (400), as bailian-cli says the service does (A.7)
    delete_refused_in: tuple[str, ...] = ()
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
        self.lora_outputs: set[str] = set()  # of those, the outputs of LoRA fine-tunes
        self.jobs: dict[str, machines.Job] = {}
        self.fine_tunes: dict[str, machines.FineTuneJob] = {}
        self.deployments: dict[str, deployments.Deployment] = {}
        self.files: dict[str, uploads.UploadedFile] = {}
        self.faults.queue.clear()
        self.faults.injected.clear()
        self.misbehaviour = Misbehaviour()
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
                d.deployed_model: {**d.to_api(), "billed_seconds": d.billed(self.clock())}
                for d in self._advanced_deployments()
            },
            "files": {f.file_id: f.to_api() for f in self.files.values()},
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

    def force_deployment_status(self, deployed_model: str, status: str) -> dict[str, Any] | None:
        """Put a deployment in any ``status`` (one the API documents, or one it might add): it
        stays there until a scale, update or delete changes it. None: no such deployment."""
        deployment = self.deployments.get(deployed_model)
        if deployment is None:
            return None
        deployment.force(status, self.clock())
        return deployment.to_api()

    def refuse_deletes_in(self, statuses: tuple[str, ...]) -> None:
        """From now on a deployment delete in one of ``statuses`` answers 400 UnsupportedOperation."""
        self.config = dataclasses.replace(self.config, delete_refused_in=statuses)

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
            if job.is_lora:
                self.lora_outputs.update(job.exported_models(self.clock(), self.config.export_seconds))
            if job.base_model != catalog.BASE_MODEL or job.is_lora:
                continue
            for output in job.exported_models(self.clock(), self.config.export_seconds):
                if output not in self.models:
                    self.models[output] = {
                        "zh-CN": f"微调模型 {job.job_name}",
                        "en-US": f"Fine-tune {job.job_name}",
                    }

    def _model_error(self, model: str) -> ApiError | None:
        if model == catalog.BASE_MODEL:
            return ApiError("BaseModelNotSupported", model=model)
        if self._is_lora(model):
            return ApiError("LoraModelNotSupported", model=model)
        if "notready" in model:
            return ApiError("ModelNotReady", model=model)
        if "nodata" in model:
            return ApiError("ModelDataUnavailable", model=model)
        if model not in self.models:
            return ApiError("ModelNotSupported", model=model)
        return None

    def _is_lora(self, model: str) -> bool:
        """A LoRA fine-tune's output (known by how it was made; the name does not say), or a
        scenario name containing ``-lora-``. Call it after ``_register_outputs``."""
        return "-lora-" in model or model in self.lora_outputs

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
        files = fields["custom_calibration_file_ids"]
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
            calibration_files=files,
            calibration_labels=[self._file_label(f) for f in files] if files else None,
            suffix=fields["output_model_suffix"],
            created=now,
            duration=self.config.job_seconds,
            log_lines=self.config.log_lines,
            will_fail="fail" in model,
            early_usage=self.config.usage_while_running,
            start_after=self.config.start_seconds,
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
        return self.misbehaviour.log_page(job.lines, *checks.log_window(q))

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
        uploaded = [self.files[f] for f in files if f in self.files]
        for file in uploaded:
            if file.purpose != "fine-tune":
                raise ApiError(
                    "InvalidParameter",
                    detail=f"file {file.file_id} was uploaded for {file.purpose}, not fine-tune",
                )
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
            will_fail=any("bad" in f for f in files) or not all(f.json_lines for f in uploaded),
            training_type=training_type,
            training_files=[self._file_label(f) for f in files],
            inputs={k: body[k] for k in FINE_TUNE_INPUTS if body.get(k) is not None},
            hyper_parameters=hyper,
            model_name=body.get("model_name"),
            suffix=body.get("finetuned_output_suffix"),
            early_usage=self.config.usage_while_running,
            start_after=self.config.start_seconds,
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
        return self.misbehaviour.log_page(self.get_fine_tune(job_id).lines, *checks.log_window(q))

    def cancel_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self.get_fine_tune(job_id)
        if job.status not in machines.CANCELLABLE:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}")
        job.cancel(self.clock())
        return {"status": "success"}

    def list_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return self.get_fine_tune(job_id).checkpoints_api(self.clock(), self.config.export_seconds)

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str | None) -> bool:
        """Publish a checkpoint as a model: PROCESSING for ``export_seconds``, then SUCCEEDED with
        its ``model_name``. Only a SUCCEEDED ``sft``/``efficient_sft`` job's checkpoints (B.8)."""
        job = self.get_fine_tune(job_id)
        if job.training_type not in catalog.EXPORTABLE_TRAINING:
            raise ApiError(
                "UnsupportedOperation", detail=f"{job.training_type} checkpoints cannot be exported"
            )
        if job.status != "SUCCEEDED":
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}")
        if checkpoint not in [name for name, _, _ in job.saved_checkpoints()]:
            raise ApiError("NotFound", detail=f"checkpoint {checkpoint} of {job_id}")
        job.exports.setdefault(checkpoint, (self.clock(), model_name or None))
        return True

    def delete_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self.get_fine_tune(job_id)
        if job.status not in machines.TERMINAL:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}; cancel it first")
        self._register_outputs()  # a full fine-tune's model stays compressible too
        self._keep_output(job)
        del self.fine_tunes[job_id]
        return {"status": "success"}

    # --- files

    def _file_label(self, file_id: str) -> str:
        """How a job's log names a file: its name too when it was uploaded here."""
        file = self.files.get(file_id)
        return file.label() if file else file_id

    def upload_files(
        self, parts: list[tuple[str, bytes]], purpose: str | None, descriptions: list[str]
    ) -> dict[str, Any]:
        """Multipart ``files`` (several allowed), ``purpose``, ``descriptions`` (one per file). A
        file the service refuses is reported in ``failed_uploads``, with HTTP 200 (B.8)."""
        if not parts:
            raise ApiError("InvalidParameter", detail="files is required (multipart/form-data)")
        purpose = purpose or "fine-tune"
        if purpose not in uploads.FILE_PURPOSES:
            raise ApiError(
                "InvalidParameter", detail=f"purpose must be one of {', '.join(uploads.FILE_PURPOSES)}"
            )
        uploaded, failed = [], []
        for index, (name, content) in enumerate(parts):
            if len(content) > uploads.FILE_MAX_BYTES:
                message = f"{name} is larger than {uploads.FILE_MAX_BYTES} bytes"
                failed.append({"name": name, "code": "BadRequest.TooLarge", "message": message})
                continue
            file_id = f"file-ft-{secrets.token_hex(12)}"
            description = descriptions[index] if index < len(descriptions) else None
            self.files[file_id] = uploads.UploadedFile.of(
                file_id, name, content, purpose, description, self.clock()
            )
            uploaded.append({"file_id": file_id, "name": name})
        return {"uploaded_files": uploaded, "failed_uploads": failed}

    def list_files(self, q: dict[str, str]) -> dict[str, Any]:
        page_no, page_size = checks.paging(q)
        files = sorted(self.files.values(), key=lambda f: (f.created, f.file_id), reverse=True)
        first = (page_no - 1) * page_size
        page = [f.to_api() for f in files[first : first + page_size]]
        return {"total": len(files), "page_no": page_no, "page_size": page_size, "files": page}

    def get_file(self, file_id: str) -> uploads.UploadedFile:
        file = self.files.get(file_id)
        if file is None:
            raise ApiError("NotFound", detail=f"file {file_id}")
        return file

    # --- deployments

    def _keep_output(self, job: machines.TimedJob) -> None:
        if isinstance(job, machines.FineTuneJob):  # its exported checkpoints too
            for model in job.exported_models(self.clock(), self.config.export_seconds):
                self.outputs[model] = job.base_model
        elif job.status == "SUCCEEDED":
            self.outputs[job.output()] = job.base_model
            if getattr(job, "training_type", None) in catalog.LORA_TRAINING:
                self.lora_outputs.add(job.output())

    def _deployable(self) -> dict[str, str]:
        """model id -> base model, for everything a deployment may serve."""
        self._register_outputs()
        models = {m: m for m in catalog.CATALOG}
        models.update(dict.fromkeys(self.models, catalog.BASE_MODEL))
        models.update(catalog.SEED_LORA_MODELS)
        for job in [*self._advanced_fine_tunes(), *self._advanced()]:
            self._keep_output(job)
        models.update(self.outputs)
        return models

    def _plans(self, model_name: str) -> tuple[str, ...]:
        """The plans a deployable model may be deployed with (the fact sheet's A.2): a LoRA
        fine-tune ``lora`` or ``mu``, any other fine-tune or compressed model ``mu``."""
        if model_name in catalog.CATALOG:
            return catalog.BASE_PLANS
        if model_name in catalog.SEED_LORA_MODELS or self._is_lora(model_name):
            return ("lora", "mu")
        return ("mu",)

    def list_deployable_models(self, q: dict[str, str]) -> dict[str, Any]:
        """``GET /deployments/models``: with ``version=v1.0`` each model lists its plans, and the
        ``mu`` plan its templates (the shape bailian-cli reads; the fact sheet's A.8)."""
        page_no = checks.parse_int(q.get("page_no"), 1, "InvalidParameter")
        page_size = checks.parse_int(q.get("page_size"), 50, "InvalidParameter")
        source = q.get("model_source")
        if page_no < 1 or not 1 <= page_size <= 100 or source not in (None, "base", "custom"):
            raise ApiError(
                "InvalidParameter", detail="page_no >= 1, page_size 1 to 100, model_source base or custom"
            )
        items = []
        for model_name, base in sorted(self._deployable().items()):
            model_source = "base" if model_name in catalog.CATALOG else "custom"
            if source in (None, model_source):
                items.append(self._deployable_model(model_name, base, model_source))
        first = (page_no - 1) * page_size
        page = items[first : first + page_size]
        return {"total": len(items), "page_no": page_no, "page_size": page_size, "models": page}

    def _deployable_model(self, model_name: str, base: str, source: str) -> dict[str, Any]:
        templates = [
            {
                "template_id": spec,
                "template_name": f"{spec} (post-paid)",
                "template_type": "COUPLED",
                "charge_type": "post_paid",
                "deploy_spec": spec,
                "roles": {"unified": {"model_unit_spec": spec, "capacity_unit_per_instance": units}},
            }
            for spec, units in catalog.DEPLOY_TEMPLATES.items()
        ]
        plans = [
            {"plan": p, **({"templates": templates} if p == "mu" else {})} for p in self._plans(model_name)
        ]
        return {"model_name": model_name, "base_model": base, "model_source": source, "plans": plans}

    def _units_in_use(self, besides: str | None = None) -> int:
        return sum(
            d.capacity if d.new_capacity is None else max(d.capacity, d.new_capacity)
            for d in self._advanced_deployments()
            if d.deployed_model != besides
            and d.plan in ("mu", "cu")
            and d.status not in ("FAILED", "STOPPED", "DELETING")
        )

    def _advanced_deployments(self) -> list[deployments.Deployment]:
        now = self.clock()
        for name, deployment in list(self.deployments.items()):
            deployment.advance(now)
            if deployment.gone(now):
                del self.deployments[name]
        return list(self.deployments.values())

    def get_deployment(self, deployed_model: str) -> deployments.Deployment:
        self._advanced_deployments()
        deployment = self.deployments.get(deployed_model)
        if deployment is None:
            raise ApiError("NotFound", detail=f"Model: {deployed_model} not found!")
        return deployment

    def create_deployment(self, body: Any) -> deployments.Deployment:
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
        capacity: Any = body.get("capacity")
        if plan == "lora" and plan not in self._plans(model_name):
            raise ApiError("InvalidParameter", detail="plan lora serves LoRA fine-tunes only; use mu")
        if plan not in self._plans(model_name):
            detail = f"plan {plan} is not available for {model_name}: {', '.join(self._plans(model_name))}"
            raise ApiError("InvalidParameter", detail=detail)
        bad_capacity = not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 < capacity < 1000
        # lora: ignored, but it must be sent (the guide; the fact sheet's D.5)
        if plan in ("mu", "cu", "lora") and bad_capacity:
            raise ApiError("InvalidParameter", detail="capacity must be an integer >= 1 and < 1000")
        units_per_instance = 1
        if plan == "mu":
            spec = body.get("deploy_spec") or body.get("template_id")
            if not spec:
                raise ApiError("InvalidParameter", detail="deploy_spec is required for plan mu")
            if spec not in catalog.DEPLOY_TEMPLATES:
                known = ", ".join(catalog.DEPLOY_TEMPLATES)
                raise ApiError(
                    "InvalidParameter",
                    detail=f"deploy_spec {spec} is not a template of {model_name}: {known}",
                )
            units_per_instance = catalog.DEPLOY_TEMPLATES[spec]
            if capacity % units_per_instance:
                detail = f"capacity must be a multiple of the base capacity {units_per_instance} of {spec}"
                raise ApiError("InvalidParameter", detail=detail)
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
        units = capacity if plan in ("mu", "cu") else 0
        in_use = self._units_in_use()
        limits = {k: body[k] for k in ("rpm_limit", "tpm_limit") if plan == "mu" and k in body}
        if plan == "ptu":
            limits["ptu_capacity"] = body["ptu_capacity"]
        deployment = deployments.Deployment(
            deployed_model=deployed_model,
            name=body.get("name") or deployed_model,
            model_name=model_name,
            base_model=deployable[model_name],
            plan=plan,
            capacity=units,
            suffix=suffix,
            unit_spec=(body.get("deploy_spec") or body.get("template_id")) if plan == "mu" else None,
            base_capacity=units_per_instance,
            limits=limits,
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

    def _changeable(self, deployment: deployments.Deployment) -> None:
        """Scale and update are refused where there is nothing to change: the deployment is going
        away or not serving (the fact sheet names no precondition besides LoRA: our choice)."""
        if deployment.status in ("DELETING", "OFFLINING", "FAILED", "STOPPED", "ARREARS_DOWN"):
            raise ApiError(
                "UnsupportedOperation", detail=f"{deployment.deployed_model} is {deployment.status}"
            )

    def scale_deployment(self, deployed_model: str, body: Any) -> deployments.Deployment:
        deployment = self.get_deployment(deployed_model)
        body = body if isinstance(body, dict) else {}
        if deployment.plan == "lora":
            raise ApiError("UnsupportedOperation", detail="LoRA deployments are scaled in the console")
        if deployment.plan == "ptu":
            ptu = body.get("ptu_capacity")
            if not isinstance(ptu, dict) or not {"input_tpm", "output_tpm"} <= set(ptu):
                raise ApiError(
                    "InvalidParameter", detail="ptu_capacity with input_tpm and output_tpm is required"
                )
            self._changeable(deployment)
            deployment.change(
                self.clock(),
                0.3 * deployment.duration,
                capacity=None,
                limits={"ptu_capacity": ptu},
                fails=False,
            )
            return deployment
        capacity = body.get("capacity")
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity < 1000:
            raise ApiError("InvalidParameter", detail="capacity must be an integer >= 0 and < 1000")
        if capacity % deployment.base_capacity:
            detail = f"capacity must be a multiple of the base capacity {deployment.base_capacity}"
            raise ApiError("InvalidParameter", detail=detail)
        self._changeable(deployment)
        fails = self._units_in_use(besides=deployed_model) + capacity > self.config.deploy_capacity
        deployment.change(self.clock(), 0.3 * deployment.duration, capacity=capacity, limits={}, fails=fails)
        deployment.capacity_lag = self.misbehaviour.capacity_lag
        return deployment

    def update_deployment(self, deployed_model: str, body: Any) -> deployments.Deployment:
        """Rate limits (``PUT .../update``): MU deployments only; UPDATING, then RUNNING."""
        deployment = self.get_deployment(deployed_model)
        body = body if isinstance(body, dict) else {}
        limits = {k: body[k] for k in ("rpm_limit", "tpm_limit") if k in body}
        if not limits or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in limits.values()
        ):
            raise ApiError("InvalidParameter", detail="rpm_limit or tpm_limit, whole numbers > 0")
        if deployment.plan != "mu":
            raise ApiError("UnsupportedOperation", detail="rate limits are set on MU deployments only")
        self._changeable(deployment)
        deployment.change(self.clock(), 0.1 * deployment.duration, capacity=None, limits=limits, fails=False)
        return deployment

    def delete_deployment(self, deployed_model: str) -> deployments.Deployment:
        deployment = self.get_deployment(deployed_model)
        now = self.clock()
        if deployment.status in self.config.delete_refused_in:
            raise ApiError("UnsupportedOperation", detail=f"{deployed_model} is {deployment.status}")
        if self.misbehaviour.sticky_deletes:  # answered as accepted; nothing happens
            return deployment
        if deployment.status != "DELETING":
            deployment.stop_billing(now)
            deployment.status, deployment.modified = "DELETING", now
            deployment.delete_after = now + self.config.delete_seconds
        return deployment
