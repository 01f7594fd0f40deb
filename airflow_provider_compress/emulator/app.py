"""The emulator's HTTP face: the seven endpoints of the compression API, plus an admin API.

Routes under ``/api/v1/fine-tunes/compress`` behave as documented; routes under ``/_emulator``
are not part of the API and let tests and demos inspect jobs and inject failures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from airflow_provider_compress.emulator import state as s
from airflow_provider_compress.emulator.faults import KINDS, QUEUED_ONLY, Fault, FaultPlan, ResetResponse
from airflow_provider_compress.emulator.state import ApiError

API = "/api/v1/fine-tunes/compress"
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

    def __init__(self, config: Config, clock: Callable[[], float] = s.now) -> None:
        self.config = config
        self.clock = clock
        self.templates = {t.template_id: t for t in s.seed_templates()}
        self.models = s.seed_models()
        # model id -> base model of what finished jobs produced: a deleted job record leaves its
        # model behind (section 5.7), so deleting the record must not make the model undeployable
        self.outputs: dict[str, str] = {}
        self.lora_outputs: set[str] = set()  # of those, the outputs of LoRA fine-tunes
        self.jobs: dict[str, s.Job] = {}
        self.fine_tunes: dict[str, s.FineTuneJob] = {}
        self.deployments: dict[str, s.Deployment] = {}
        self.files: dict[str, s.UploadedFile] = {}
        self.faults = FaultPlan(
            rate=config.fault_rate,
            kinds=config.fault_kinds,
            slow_seconds=config.slow_seconds,
            seed=config.fault_seed,
        )
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

    # --- helpers

    def authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        return secrets.compare_digest(given, f"Bearer {self.config.api_key}".encode())

    def _job(self, job_id: str) -> s.Job:
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
            if job.base_model != s.BASE_MODEL or job.is_lora:
                continue
            for output in job.exported_models(self.clock(), self.config.export_seconds):
                if output not in self.models:
                    self.models[output] = {
                        "zh-CN": f"微调模型 {job.job_name}",
                        "en-US": f"Fine-tune {job.job_name}",
                    }

    def _model_error(self, model: str) -> ApiError | None:
        if model == s.BASE_MODEL:
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

    # --- the seven endpoints

    def list_templates(self, lang: str, model: str | None) -> dict[str, Any]:
        self._register_outputs()
        if model in (None, "", s.BASE_MODEL):
            chosen = list(self.models)
        else:
            chosen = [m for m in self.models if m == model]
        return {
            "base_models": [s.BASE_MODEL],
            "custom_models": [
                {
                    "model": m,
                    "model_name": s.pick(self.models[m], lang),
                    "base_model": s.BASE_MODEL,
                    "templates": [t.to_api(lang) for t in self.templates.values() if t.supports(m)],
                }
                for m in chosen
            ],
        }

    def create_job(self, body: Any) -> s.Job:
        if body is None:
            raise ApiError("MissingParameter", detail="the request body")
        if not isinstance(body, dict):
            raise ApiError("InvalidParameter", detail="the body must be a JSON object")
        model, template_id = body.get("model"), body.get("template_id")
        if not isinstance(model, str) or not model.strip():
            raise ApiError("MissingModel")
        if not isinstance(template_id, str) or not template_id.strip():
            raise ApiError("MissingTemplateId")
        job_name = body.get("job_name")
        if job_name is not None:
            if not isinstance(job_name, str) or not job_name.strip() or len(job_name) > 50:
                raise ApiError("InvalidParameter", detail="job_name must be 1 to 50 characters")
            if not s.JOB_NAME_PATTERN.fullmatch(job_name):
                raise ApiError("InvalidJobName")
        description = body.get("job_description")
        if description is not None and (not isinstance(description, str) or len(description) > 200):
            raise ApiError("InvalidParameter", detail="job_description must be at most 200 characters")
        suffix = body.get("output_model_suffix")
        if suffix is not None and (not isinstance(suffix, str) or not s.SUFFIX_PATTERN.fullmatch(suffix)):
            raise ApiError(
                "InvalidParameter", detail="output_model_suffix must be 1 to 8 lowercase letters or digits"
            )
        files = body.get("custom_calibration_file_ids")
        if files is not None and (
            not isinstance(files, list) or not all(isinstance(f, str) and f.strip() for f in files)
        ):
            raise ApiError(
                "InvalidParameter", detail="custom_calibration_file_ids must be a list of file ids"
            )
        overrides = body.get("hyper_parameters") or {}
        if not isinstance(overrides, dict):
            raise ApiError("InvalidParameter", detail="hyper_parameters must be an object")
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
        effective = s.check_hyper_parameters(template, overrides)
        now = self.clock()
        if job_name is not None and any(j.job_name == job_name for j in self.jobs.values()):
            raise ApiError("JobNameDuplicated", job_name=job_name)
        limit = self.config.max_active_jobs
        if limit is not None:
            active = sum(1 for j in self._advanced() if j.status not in s.TERMINAL)
            if active >= limit:
                raise ApiError("Throttling", retry_after=1)
        job_id = s.new_job_id(now, self.jobs)
        job = s.Job(
            job_id=job_id,
            job_name=job_name or f"compress-{job_id}",
            job_description=description,
            model=model,
            template=template,
            hyper_parameters=effective,
            calibration_files=files,
            calibration_labels=[self._file_label(f) for f in files] if files else None,
            suffix=suffix,
            created=now,
            duration=self.config.job_seconds,
            log_lines=self.config.log_lines,
            will_fail="fail" in model,
        )
        job.advance(now, self.config.cancel_seconds)
        self.jobs[job_id] = job
        self.creates += 1
        return job

    def _advanced(self) -> list[s.Job]:
        now = self.clock()
        for job in self.jobs.values():
            job.advance(now, self.config.cancel_seconds)
        return list(self.jobs.values())

    def list_jobs(self, q: dict[str, str], lang: str) -> dict[str, Any]:
        page_no = s.parse_int(q.get("page_no"), 1, "InvalidPageNo")
        if page_no < 1:
            raise ApiError("InvalidPageNo", value=page_no)
        page_size = s.parse_int(q.get("page_size"), 10, "InvalidPageSize")
        if not 1 <= page_size <= 100:
            raise ApiError("InvalidPageSize", value=page_size)
        start_from = s.parse_time_filter(q["start_time"], end_of_day=False) if q.get("start_time") else None
        end_by = s.parse_time_filter(q["end_time"], end_of_day=True) if q.get("end_time") else None
        if q.get("sort_by", "create_time") != "create_time":
            raise ApiError("InvalidParameter", detail="sort_by supports only create_time")
        order = q.get("sort_order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError("InvalidParameter", detail="sort_order must be asc or desc")
        select_key = q.get("select_key") or None
        if select_key not in (None, "job_name", "job_id"):
            raise ApiError("InvalidParameter", detail="select_key must be job_name or job_id")
        status = q.get("status") or None
        if status is not None and status not in (*s.CANCELLABLE, "CANCELING", *s.TERMINAL):
            raise ApiError("InvalidParameter", detail=f"unknown status {status}")

        def fuzzy(needle: str | None, *hay: str) -> bool:
            return needle is None or any(needle.lower() in h.lower() for h in hay)

        search = q.get("search_key") or None
        searched = {"job_name": ("job_name",), "job_id": ("job_id",), None: ("job_name", "job_id")}[
            select_key
        ]
        jobs = [
            j
            for j in self._advanced()
            if (status is None or j.status == status)
            and q.get("model") in (None, "", j.model)
            and q.get("template_id") in (None, "", j.template.template_id)
            and q.get("quant_spec") in (None, "", j.template.quant_spec)
            and q.get("quant_method") in (None, "", j.template.quant_method)
            and (start_from is None or (j.start is not None and int(j.start) >= start_from))
            and (end_by is None or (j.end is not None and int(j.end) <= end_by))
            and fuzzy(q.get("job_name") or None, j.job_name)
            and fuzzy(q.get("job_id") or None, j.job_id)
            and fuzzy(search, *(getattr(j, f) for f in searched))
        ]
        jobs.sort(key=lambda j: (j.created, j.job_id), reverse=order == "desc")
        first = (page_no - 1) * page_size
        return {
            "total": len(jobs),
            "page_no": page_no,
            "page_size": page_size,
            "jobs": [j.to_api(lang, brief=True) for j in jobs[first : first + page_size]],
        }

    def read_job(self, job_id: str) -> s.Job:
        job = self._job(job_id)
        self.job_reads[f"status {job.status}"] += 1
        return job

    def get_logs(self, job_id: str, q: dict[str, str]) -> dict[str, Any]:
        job = self._job(job_id)
        self.job_reads[f"logs {job.status}"] += 1
        return _log_page(job.lines, q)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        if job.status not in s.CANCELLABLE:
            raise ApiError("JobState", job_id=job_id, status=job.status)
        job.cancel(self.clock())
        return {"status": "success"}

    def delete_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        if job.status not in s.TERMINAL:
            raise ApiError("JobState", job_id=job_id, status=job.status)
        self._keep_output(job)
        del self.jobs[job_id]
        return {"status": "success"}

    # --- fine-tunes

    def _advanced_fine_tunes(self) -> list[s.FineTuneJob]:
        now = self.clock()
        for job in self.fine_tunes.values():
            job.advance(now, self.config.cancel_seconds)
        return list(self.fine_tunes.values())

    def _fine_tune(self, job_id: str) -> s.FineTuneJob:
        job = self.fine_tunes.get(job_id)
        if job is None:
            raise ApiError("NotFound", detail=f"fine-tune job {job_id}")
        job.advance(self.clock(), self.config.cancel_seconds)
        return job

    def create_fine_tune(self, body: Any) -> s.FineTuneJob:
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
        if training_type not in s.TRAINING_TYPES:
            raise ApiError("InvalidParameter", detail=f"unknown training_type {training_type}")
        self._register_outputs()
        if model in s.CATALOG:
            base = model
        elif model in self.models:
            base = s.BASE_MODEL
        else:
            raise ApiError("NotFound", detail=f"Model: {model} not found!")
        if training_type not in s.CATALOG[base]:
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
            and sum(j.status not in s.TERMINAL for j in self._advanced_fine_tunes()) >= limit
        ):
            raise ApiError("Throttling", retry_after=1)
        now = self.clock()
        job_id = s.new_job_id(now, self.fine_tunes, prefix="ft")
        job = s.FineTuneJob(
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
        )
        job.advance(now, self.config.cancel_seconds)
        self.fine_tunes[job_id] = job
        self.fine_tune_creates += 1
        return job

    def list_fine_tunes(self, q: dict[str, str], lang: str) -> dict[str, Any]:
        page_no, page_size = _paging(q)
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
        return _log_page(self._fine_tune(job_id).lines, q)

    def cancel_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self._fine_tune(job_id)
        if job.status not in s.CANCELLABLE:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}")
        job.cancel(self.clock())
        return {"status": "success"}

    def list_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return self._fine_tune(job_id).checkpoints_api(self.clock(), self.config.export_seconds)

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str | None) -> bool:
        """Publish a checkpoint as a model: PROCESSING for ``export_seconds``, then SUCCEEDED with
        its ``model_name``. Only a SUCCEEDED ``sft``/``efficient_sft`` job's checkpoints (B.8)."""
        job = self._fine_tune(job_id)
        if job.training_type not in s.EXPORTABLE_TRAINING:
            raise ApiError(
                "UnsupportedOperation", detail=f"{job.training_type} checkpoints cannot be exported"
            )
        if job.status != "SUCCEEDED":
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}")
        if checkpoint not in [name for name, _, _ in job.saved_checkpoints()]:
            raise ApiError("NotFound", detail=f"checkpoint {checkpoint} of {job_id}")
        job.exports.setdefault(checkpoint, (self.clock(), model_name or None))
        return True

    # --- files

    def _file_label(self, file_id: str) -> str:
        """How a job's log names a file: its name too when it was uploaded here."""
        file = self.files.get(file_id)
        return file.label() if file else file_id

    def upload_files(
        self, uploads: list[tuple[str, bytes]], purpose: str | None, descriptions: list[str]
    ) -> dict[str, Any]:
        """Multipart ``files`` (several allowed), ``purpose``, ``descriptions`` (one per file). A
        file the service refuses is reported in ``failed_uploads``, with HTTP 200 (B.8)."""
        if not uploads:
            raise ApiError("InvalidParameter", detail="files is required (multipart/form-data)")
        purpose = purpose or "fine-tune"
        if purpose not in s.FILE_PURPOSES:
            raise ApiError("InvalidParameter", detail=f"purpose must be one of {', '.join(s.FILE_PURPOSES)}")
        uploaded, failed = [], []
        for index, (name, content) in enumerate(uploads):
            if len(content) > s.FILE_MAX_BYTES:
                message = f"{name} is larger than {s.FILE_MAX_BYTES} bytes"
                failed.append({"name": name, "code": "BadRequest.TooLarge", "message": message})
                continue
            file_id = f"file-ft-{secrets.token_hex(12)}"
            description = descriptions[index] if index < len(descriptions) else None
            self.files[file_id] = s.UploadedFile.of(
                file_id, name, content, purpose, description, self.clock()
            )
            uploaded.append({"file_id": file_id, "name": name})
        return {"uploaded_files": uploaded, "failed_uploads": failed}

    def list_files(self, q: dict[str, str]) -> dict[str, Any]:
        page_no, page_size = _paging(q)
        files = sorted(self.files.values(), key=lambda f: (f.created, f.file_id), reverse=True)
        first = (page_no - 1) * page_size
        page = [f.to_api() for f in files[first : first + page_size]]
        return {"total": len(files), "page_no": page_no, "page_size": page_size, "files": page}

    def get_file(self, file_id: str) -> s.UploadedFile:
        file = self.files.get(file_id)
        if file is None:
            raise ApiError("NotFound", detail=f"file {file_id}")
        return file

    def delete_fine_tune(self, job_id: str) -> dict[str, Any]:
        job = self._fine_tune(job_id)
        if job.status not in s.TERMINAL:
            raise ApiError("UnsupportedOperation", detail=f"job {job_id} is {job.status}; cancel it first")
        self._register_outputs()  # a full fine-tune's model stays compressible too
        self._keep_output(job)
        del self.fine_tunes[job_id]
        return {"status": "success"}

    # --- deployments

    def _keep_output(self, job: s.TimedJob) -> None:
        if isinstance(job, s.FineTuneJob):  # its exported checkpoints too
            for model in job.exported_models(self.clock(), self.config.export_seconds):
                self.outputs[model] = job.base_model
        elif job.status == "SUCCEEDED":
            self.outputs[job.output()] = job.base_model
            if getattr(job, "training_type", None) in s.LORA_TRAINING:
                self.lora_outputs.add(job.output())

    def _deployable(self) -> dict[str, str]:
        """model id -> base model, for everything a deployment may serve."""
        self._register_outputs()
        models = {m: m for m in s.CATALOG}
        models.update(dict.fromkeys(self.models, s.BASE_MODEL))
        models.update(s.SEED_LORA_MODELS)
        for job in [*self._advanced_fine_tunes(), *self._advanced()]:
            self._keep_output(job)
        models.update(self.outputs)
        return models

    def _plans(self, model_name: str) -> tuple[str, ...]:
        """The plans a deployable model may be deployed with (the fact sheet's A.2): a LoRA
        fine-tune ``lora`` or ``mu``, any other fine-tune or compressed model ``mu``."""
        if model_name in s.CATALOG:
            return s.BASE_PLANS
        if model_name in s.SEED_LORA_MODELS or self._is_lora(model_name):
            return ("lora", "mu")
        return ("mu",)

    def list_deployable_models(self, q: dict[str, str]) -> dict[str, Any]:
        """``GET /deployments/models``: with ``version=v1.0`` each model lists its plans, and the
        ``mu`` plan its templates (the shape bailian-cli reads; the fact sheet's A.8)."""
        page_no = s.parse_int(q.get("page_no"), 1, "InvalidParameter")
        page_size = s.parse_int(q.get("page_size"), 50, "InvalidParameter")
        source = q.get("model_source")
        if page_no < 1 or not 1 <= page_size <= 100 or source not in (None, "base", "custom"):
            raise ApiError(
                "InvalidParameter", detail="page_no >= 1, page_size 1 to 100, model_source base or custom"
            )
        items = []
        for model_name, base in sorted(self._deployable().items()):
            model_source = "base" if model_name in s.CATALOG else "custom"
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
            for spec, units in s.DEPLOY_TEMPLATES.items()
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

    def _advanced_deployments(self) -> list[s.Deployment]:
        now = self.clock()
        for name, deployment in list(self.deployments.items()):
            deployment.advance(now)
            if deployment.gone(now):
                del self.deployments[name]
        return list(self.deployments.values())

    def _deployment(self, deployed_model: str) -> s.Deployment:
        self._advanced_deployments()
        deployment = self.deployments.get(deployed_model)
        if deployment is None:
            raise ApiError("NotFound", detail=f"Model: {deployed_model} not found!")
        return deployment

    def create_deployment(self, body: Any) -> s.Deployment:
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
            if spec not in s.DEPLOY_TEMPLATES:
                known = ", ".join(s.DEPLOY_TEMPLATES)
                raise ApiError(
                    "InvalidParameter",
                    detail=f"deploy_spec {spec} is not a template of {model_name}: {known}",
                )
            units_per_instance = s.DEPLOY_TEMPLATES[spec]
            if capacity % units_per_instance:
                detail = f"capacity must be a multiple of the base capacity {units_per_instance} of {spec}"
                raise ApiError("InvalidParameter", detail=detail)
            if body.get("billing_method", "POST_PAY") != "POST_PAY":
                raise ApiError("InvalidParameter", detail="billing_method supports only POST_PAY")
        if plan == "ptu" and not isinstance(body.get("ptu_capacity"), dict):
            raise ApiError("InvalidParameter", detail="Miss ptu capacity info")
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or not s.SUFFIX_PATTERN.fullmatch(suffix)):
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
        deployment = s.Deployment(
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
        page_no, page_size = _paging(q)
        items = sorted(
            self._advanced_deployments(), key=lambda d: (d.created, d.deployed_model), reverse=True
        )
        first = (page_no - 1) * page_size
        page = [d.to_api() for d in items[first : first + page_size]]
        return {"total": len(items), "page_no": page_no, "page_size": page_size, "deployments": page}

    def _changeable(self, deployment: s.Deployment) -> None:
        """Scale and update are refused where there is nothing to change: the deployment is going
        away or not serving (the fact sheet names no precondition besides LoRA: our choice)."""
        if deployment.status in ("DELETING", "OFFLINING", "FAILED", "STOPPED", "ARREARS_DOWN"):
            raise ApiError(
                "UnsupportedOperation", detail=f"{deployment.deployed_model} is {deployment.status}"
            )

    def scale_deployment(self, deployed_model: str, body: Any) -> s.Deployment:
        deployment = self._deployment(deployed_model)
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
        return deployment

    def update_deployment(self, deployed_model: str, body: Any) -> s.Deployment:
        """Rate limits (``PUT .../update``): MU deployments only; UPDATING, then RUNNING."""
        deployment = self._deployment(deployed_model)
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

    def delete_deployment(self, deployed_model: str) -> s.Deployment:
        deployment = self._deployment(deployed_model)
        now = self.clock()
        if deployment.status in self.config.delete_refused_in:
            raise ApiError("UnsupportedOperation", detail=f"{deployed_model} is {deployment.status}")
        if deployment.status != "DELETING":
            deployment.stop_billing(now)
            deployment.status, deployment.modified = "DELETING", now
            deployment.delete_after = now + self.config.delete_seconds
        return deployment


def _paging(q: dict[str, str]) -> tuple[int, int]:
    page_no = s.parse_int(q.get("page_no"), 1, "InvalidParameter")
    page_size = s.parse_int(q.get("page_size"), 10, "InvalidParameter")
    if page_no < 1 or not 1 <= page_size <= 100:
        raise ApiError("InvalidParameter", detail="page_no must be >= 1 and page_size 1 to 100")
    return page_no, page_size


def _log_page(lines: list[str], q: dict[str, str]) -> dict[str, Any]:
    offset = s.parse_int(q.get("offset"), 0, "InvalidParameter")
    line = s.parse_int(q.get("line"), 100, "InvalidParameter")
    if offset < 0:
        raise ApiError("InvalidParameter", detail="offset must be >= 0")
    if not 1 <= line <= 1000:
        raise ApiError("InvalidParameter", detail="line must be between 1 and 1000")
    return {"total": len(lines), "logs": lines[offset : offset + line]}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ApiError("InvalidParameter", detail="the body is not valid JSON") from None


def fault_error(fault: Fault) -> ApiError:
    error = ApiError("Throttling" if fault.status == 429 else "InternalError")
    error.status, error.retry_after = fault.status or 500, fault.retry_after
    return error


def resolve_lang(request: Request) -> str:
    """Query ``lang`` > Accept-Language > zh-CN; anything unsupported falls back to zh-CN."""
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "").split(",")[0]
    wanted = wanted.split(";")[0].strip().lower()
    return next((lang for lang in s.LANGS if lang.lower() == wanted), "zh-CN")


def create_app(config: Config | None = None, emulator: Emulator | None = None) -> FastAPI:
    emu = emulator or Emulator(config or Config())
    app = FastAPI(title="DashScope compression API emulator", docs_url=None, redoc_url=None)
    app.state.emulator = emu

    async def answer(request: Request, work: Callable[[], Any], envelope: str = "output") -> Response:
        request_id = str(uuid.uuid4())
        lang = resolve_lang(request)
        emu.requests += 1
        emu.calls[f"{request.method} {request.scope['route'].path}"] += 1
        emu.last_request_id = request_id
        try:
            # Before any fault is drawn: a caller without the key must not spend the faults a
            # test queued for the real client.
            if not emu.authorized(request):
                raise ApiError("InvalidApiKey")
            fault = emu.faults.draw(request.method, request.url.path)
            if fault and fault.kind == "reset":
                return ResetResponse()
            if fault and fault.kind == "answer":
                return fault.replacement()
            if fault and not fault.served_first:
                raise fault_error(fault)
            workspace = request.headers.get("x-dashscope-workspace")
            if workspace and emu.config.workspaces and workspace not in emu.config.workspaces:
                raise ApiError("AccessDenied", detail=f"workspace {workspace}")
            output = work()
            if fault and fault.status:
                raise fault_error(fault)  # served, but the answer is an error
            if hasattr(output, "to_api"):
                output = output.to_api(lang)
            response = JSONResponse({"request_id": request_id, envelope: output})
            return await emu.faults.spoil(fault, response) if fault else response
        except ApiError as err:
            headers = {"Retry-After": f"{err.retry_after:g}"} if err.retry_after is not None else None
            body = {"request_id": request_id, "code": err.code, "message": err.message(lang)}
            return JSONResponse(body, status_code=err.status, headers=headers)

    @app.get(f"{API}/templates")
    async def list_templates(request: Request) -> Response:
        return await answer(
            request, lambda: emu.list_templates(resolve_lang(request), request.query_params.get("model"))
        )

    @app.post(f"{API}/jobs")
    async def create_job(request: Request) -> Response:
        raw = await request.body()
        return await answer(request, lambda: emu.create_job(_json(raw)))

    @app.get(f"{API}/jobs")
    async def list_jobs(request: Request) -> Response:
        return await answer(request, lambda: emu.list_jobs(dict(request.query_params), resolve_lang(request)))

    @app.get(f"{API}/jobs/{{job_id}}")
    async def get_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.read_job(job_id))

    @app.get(f"{API}/jobs/{{job_id}}/logs")
    async def get_logs(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_logs(job_id, dict(request.query_params)))

    @app.post(f"{API}/jobs/{{job_id}}/cancel")
    async def cancel_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.cancel_job(job_id))

    @app.delete(f"{API}/jobs/{{job_id}}")
    async def delete_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.delete_job(job_id))

    @app.post("/api/v1/fine-tunes")
    async def create_fine_tune(request: Request) -> Response:
        raw = await request.body()
        return await answer(request, lambda: emu.create_fine_tune(_json(raw)))

    @app.get("/api/v1/fine-tunes")
    async def list_fine_tunes(request: Request) -> Response:
        return await answer(
            request, lambda: emu.list_fine_tunes(dict(request.query_params), resolve_lang(request))
        )

    @app.get("/api/v1/fine-tunes/{job_id}")
    async def get_fine_tune(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu._fine_tune(job_id))

    @app.get("/api/v1/fine-tunes/{job_id}/logs")
    async def fine_tune_logs(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.fine_tune_logs(job_id, dict(request.query_params)))

    @app.post("/api/v1/fine-tunes/{job_id}/cancel")
    async def cancel_fine_tune(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.cancel_fine_tune(job_id))

    @app.delete("/api/v1/fine-tunes/{job_id}")
    async def delete_fine_tune(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.delete_fine_tune(job_id))

    @app.get("/api/v1/fine-tunes/{job_id}/checkpoints")
    async def list_checkpoints(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.list_checkpoints(job_id))

    @app.get("/api/v1/fine-tunes/{job_id}/export/{checkpoint}")
    async def export_checkpoint(job_id: str, checkpoint: str, request: Request) -> Response:
        model_name = request.query_params.get("model_name")
        return await answer(request, lambda: emu.export_checkpoint(job_id, checkpoint, model_name))

    # The file API answers in ``data``, not ``output`` (fact sheet B.8, 1.3).
    @app.post("/api/v1/files")
    async def upload_files(request: Request) -> Response:
        uploads: list[tuple[str, bytes]] = []
        purpose, descriptions = None, []
        with contextlib.suppress(Exception):  # not multipart: no files, which the API refuses
            form = await request.form(max_files=100)
            uploads = [
                (f.filename or "file", await f.read())
                for f in form.getlist("files")
                if isinstance(f, UploadFile)
            ]
            given = form.get("purpose")
            purpose = given if isinstance(given, str) else None
            descriptions = [d for d in form.getlist("descriptions") if isinstance(d, str)]
        return await answer(request, lambda: emu.upload_files(uploads, purpose, descriptions), "data")

    @app.get("/api/v1/files")
    async def list_files(request: Request) -> Response:
        return await answer(request, lambda: emu.list_files(dict(request.query_params)), "data")

    @app.get("/api/v1/files/{file_id}")
    async def get_file(file_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_file(file_id), "data")

    @app.post("/api/v1/deployments")
    async def create_deployment(request: Request) -> Response:
        raw = await request.body()
        return await answer(request, lambda: emu.create_deployment(_json(raw)))

    @app.get("/api/v1/deployments")
    async def list_deployments(request: Request) -> Response:
        return await answer(request, lambda: emu.list_deployments(dict(request.query_params)))

    @app.get("/api/v1/deployments/models")
    async def list_deployable_models(request: Request) -> Response:
        return await answer(request, lambda: emu.list_deployable_models(dict(request.query_params)))

    @app.get("/api/v1/deployments/{deployed_model}")
    async def get_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(request, lambda: emu._deployment(deployed_model))

    @app.put("/api/v1/deployments/{deployed_model}/scale")
    async def scale_deployment(deployed_model: str, request: Request) -> Response:
        raw = await request.body()
        return await answer(request, lambda: emu.scale_deployment(deployed_model, _json(raw)))

    @app.put("/api/v1/deployments/{deployed_model}/update")
    async def update_deployment(deployed_model: str, request: Request) -> Response:
        raw = await request.body()
        return await answer(request, lambda: emu.update_deployment(deployed_model, _json(raw)))

    @app.delete("/api/v1/deployments/{deployed_model}")
    async def delete_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(request, lambda: emu.delete_deployment(deployed_model))

    # --- admin: not part of the API. It changes what the API answers, so it needs the key too.

    def admin_key(request: Request) -> None:
        if not emu.authorized(request):
            raise HTTPException(401, "the admin API needs the emulator's key (Authorization: Bearer ...)")

    admin = APIRouter(prefix="/_emulator", dependencies=[Depends(admin_key)])

    @admin.post("/fail-next")
    async def fail_next(request: Request) -> Response:
        """The next ``count`` API requests get fault ``kind`` (or ``status``: 429, 500, 502, 503);
        a status fault with ``after`` is served first and only its answer fails; with ``method``
        only requests of that method (``POST``: creates and cancels) get it, with ``path`` only
        requests whose path matches that regular expression. Kind ``answer`` sends ``status``
        (default 200) and ``body`` instead of the API's answer."""
        spec = await request.json()
        kind = str(spec.get("kind") or spec.get("status") or 503)
        if kind not in KINDS + QUEUED_ONLY:
            return JSONResponse(
                {"error": f"kind must be one of {', '.join(KINDS + QUEUED_ONLY)}"}, status_code=400
            )
        try:
            path = spec.get("path")
            if path is not None:
                re.compile(path)
            fault = Fault(
                kind,
                spec.get("retry_after"),
                bool(spec.get("after", False)),
                str(spec["method"]).upper() if spec.get("method") else None,
                path,
                int(spec.get("status") or 200) if kind == "answer" else 200,
                str(spec.get("body", "")),
            )
        except (re.error, TypeError, ValueError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        emu.faults.queue.extend(fault for _ in range(int(spec.get("count", 1))))
        return JSONResponse({"queued": len(emu.faults.queue)})

    @admin.get("/faults")
    async def show_faults() -> Response:
        return JSONResponse(emu.faults.summary())

    @admin.post("/faults")
    async def set_faults(request: Request) -> Response:
        """Change the random faults at run time (rate, kinds, slow_seconds, retry_after, seed)."""
        spec = await request.json()
        try:
            emu.faults.configure(
                **{k: spec.get(k) for k in ("rate", "kinds", "slow_seconds", "retry_after", "seed")}
            )
        except (TypeError, ValueError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(emu.faults.summary())

    @admin.post("/timing")
    async def set_timing(request: Request) -> Response:
        """Change how long new jobs and deployments take (``job_seconds``, ``deploy_seconds``,
        ``cancel_seconds``): a test or benchmark that needs one long job among short ones."""
        spec = await request.json()
        changes = {k: spec[k] for k in ("job_seconds", "deploy_seconds", "cancel_seconds") if k in spec}
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in changes.values()
        ):
            return JSONResponse({"error": "seconds must be positive numbers"}, status_code=400)
        emu.config = dataclasses.replace(emu.config, **changes)
        return JSONResponse(
            {k: getattr(emu.config, k) for k in ("job_seconds", "deploy_seconds", "cancel_seconds")}
        )

    @admin.post("/deployments/{deployed_model}/status")
    async def force_status(deployed_model: str, request: Request) -> Response:
        """Put a deployment in any ``status`` (one the API documents, or one it might add): it
        stays there until a scale, update or delete changes it."""
        status = (await request.json()).get("status")
        deployment = emu.deployments.get(deployed_model)
        if deployment is None or not isinstance(status, str) or not status:
            return JSONResponse({"error": "no such deployment, or no status string"}, status_code=400)
        deployment.force(status, emu.clock())
        return JSONResponse(deployment.to_api())

    @admin.post("/deployment-rules")
    async def set_deployment_rules(request: Request) -> Response:
        """``delete_refused_in``: statuses in which a delete answers 400 UnsupportedOperation."""
        refused = (await request.json()).get("delete_refused_in", [])
        if not isinstance(refused, list) or not all(isinstance(x, str) for x in refused):
            return JSONResponse({"error": "delete_refused_in must be a list of statuses"}, status_code=400)
        emu.config = dataclasses.replace(emu.config, delete_refused_in=tuple(refused))
        return JSONResponse({"delete_refused_in": refused})

    @admin.get("/state")
    async def show_state(jobs: bool = True) -> Response:
        counters = {
            "requests": emu.requests,
            "last_request_id": emu.last_request_id,
            "creates": emu.creates,
            "fine_tune_creates": emu.fine_tune_creates,
            "deployment_creates": emu.deployment_creates,
            "job_reads": dict(emu.job_reads),
            "calls": dict(emu.calls),
        }
        if not jobs:  # the counters only: cheap with thousands of jobs
            return JSONResponse(counters)
        return JSONResponse(
            {
                **counters,
                "jobs": {j.job_id: {**j.to_api("en-US"), "log_total": len(j.lines)} for j in emu._advanced()},
                "fine_tunes": {
                    j.job_id: {**j.to_api("en-US"), "log_total": len(j.lines)}
                    for j in emu._advanced_fine_tunes()
                },
                "deployments": {
                    d.deployed_model: {**d.to_api(), "billed_seconds": d.billed(emu.clock())}
                    for d in emu._advanced_deployments()
                },
                "files": {f.file_id: f.to_api() for f in emu.files.values()},
            }
        )

    @admin.get("/jobs/{job_id}/logs")
    async def full_log(job_id: str) -> Response:
        job = emu.jobs.get(job_id) or emu.fine_tunes.get(job_id)
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        job.advance(emu.clock(), emu.config.cancel_seconds)
        return JSONResponse({"logs": job.lines})

    @admin.post("/reset")
    async def reset() -> Response:
        emu.jobs.clear()
        emu.fine_tunes.clear()
        emu.deployments.clear()
        emu.files.clear()
        emu.lora_outputs.clear()
        emu.faults.queue.clear()
        emu.faults.injected.clear()
        emu.requests = emu.creates = emu.fine_tune_creates = emu.deployment_creates = 0
        emu.job_reads.clear()
        emu.calls.clear()
        emu.outputs.clear()
        return JSONResponse({"status": "reset"})

    app.include_router(admin)
    return app
