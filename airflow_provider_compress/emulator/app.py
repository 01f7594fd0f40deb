"""The emulator's HTTP face: the endpoints of the compression, fine-tune and deployment APIs, plus
an admin API. Thin: each route hands its request to a public method of ``service.Emulator`` and
turns the result (or its ``ApiError``) into the API's JSON envelope.

Routes under ``/api/v1`` behave as documented; routes under ``/_emulator`` are not part of the API
and let tests and demos inspect the account and inject failures.

No body is read before its request's key is checked (``answer`` reads it), and none past
``bodies.BodyLimit``'s size: a caller without the key cannot make the emulator hold what it sends.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_compress.emulator.bodies import BodyLimit, read_uploads
from airflow_provider_compress.emulator.catalog import LANGS
from airflow_provider_compress.emulator.errors import ApiError
from airflow_provider_compress.emulator.faults import KINDS, QUEUED_ONLY, Fault, ResetResponse
from airflow_provider_compress.emulator.service import Config, Emulator

COMPRESS_API = "/api/v1/fine-tunes/compress"


def json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ApiError("InvalidParameter", detail="the body is not valid JSON") from None


def fault_error(fault: Fault) -> ApiError:
    error = ApiError("Throttling" if fault.status == 429 else "InternalError")
    error.status, error.retry_after = fault.status or 500, fault.retry_after
    return error


# An outage's answer: the error the API gives for its status (docs/emulator.md)
OUTAGE_ERRORS = {401: "InvalidApiKey", 403: "AccessDenied", 404: "NotFound", 429: "Throttling"}


def outage_error(status: int) -> ApiError:
    error = ApiError(OUTAGE_ERRORS.get(status, "InternalError"), detail="outage")
    error.status = status
    return error


def resolve_lang(request: Request) -> str:
    """Query ``lang`` > Accept-Language > zh-CN; anything unsupported falls back to zh-CN."""
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "").split(",")[0]
    wanted = wanted.split(";")[0].strip().lower()
    return next((lang for lang in LANGS if lang.lower() == wanted), "zh-CN")


def create_app(config: Config | None = None, emulator: Emulator | None = None) -> FastAPI:
    emu = emulator or Emulator(config or Config())
    app = FastAPI(title="DashScope compression API emulator", docs_url=None, redoc_url=None)
    app.state.emulator = emu
    app.add_middleware(BodyLimit)

    async def answer(
        request: Request,
        work: Callable[..., Any],
        envelope: str = "output",
        body: Callable[[Request], Awaitable[Any]] | None = None,
    ) -> Response:
        """``work()`` as the API's answer; ``work(read)`` with ``read = await body(request)``,
        read once the key is checked."""
        request_id = str(uuid.uuid4())
        lang = resolve_lang(request)
        emu.count_request(f"{request.method} {request.scope['route'].path}", request_id)
        try:
            # Before any fault is drawn: a caller without the key must not spend the faults a
            # test queued for the real client. And before the body is read.
            if not emu.authorized(request.headers.get("authorization", "")):
                raise ApiError("InvalidApiKey")
            if emu.misbehaviour.in_outage(emu.clock()):
                raise outage_error(emu.misbehaviour.outage_status)
            given = [await body(request)] if body else []
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
            output = work(*given)
            if fault and fault.status:
                raise fault_error(fault)  # served, but the answer is an error
            if hasattr(output, "to_api"):
                output = output.to_api(lang)
            response = JSONResponse({"request_id": request_id, envelope: output})
            return await emu.faults.spoil(fault, response) if fault else response
        except ApiError as err:
            headers = {"Retry-After": f"{err.retry_after:g}"} if err.retry_after is not None else None
            error = {"request_id": request_id, "code": err.code, "message": err.message(lang)}
            return JSONResponse(error, status_code=err.status, headers=headers)

    @app.get(f"{COMPRESS_API}/templates")
    async def list_templates(request: Request) -> Response:
        return await answer(
            request, lambda: emu.list_templates(resolve_lang(request), request.query_params.get("model"))
        )

    @app.post(f"{COMPRESS_API}/jobs")
    async def create_job(request: Request) -> Response:
        return await answer(request, lambda raw: emu.create_job(json_body(raw)), body=Request.body)

    @app.get(f"{COMPRESS_API}/jobs")
    async def list_jobs(request: Request) -> Response:
        return await answer(request, lambda: emu.list_jobs(dict(request.query_params), resolve_lang(request)))

    @app.get(f"{COMPRESS_API}/jobs/{{job_id}}")
    async def get_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_job(job_id))

    @app.get(f"{COMPRESS_API}/jobs/{{job_id}}/logs")
    async def get_logs(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.job_logs(job_id, dict(request.query_params)))

    @app.post(f"{COMPRESS_API}/jobs/{{job_id}}/cancel")
    async def cancel_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.cancel_job(job_id))

    @app.delete(f"{COMPRESS_API}/jobs/{{job_id}}")
    async def delete_job(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.delete_job(job_id))

    @app.post("/api/v1/fine-tunes")
    async def create_fine_tune(request: Request) -> Response:
        return await answer(request, lambda raw: emu.create_fine_tune(json_body(raw)), body=Request.body)

    @app.get("/api/v1/fine-tunes")
    async def list_fine_tunes(request: Request) -> Response:
        return await answer(
            request, lambda: emu.list_fine_tunes(dict(request.query_params), resolve_lang(request))
        )

    @app.get("/api/v1/fine-tunes/{job_id}")
    async def get_fine_tune(job_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_fine_tune(job_id))

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
        return await answer(request, lambda form: emu.upload_files(*form), "data", body=read_uploads)

    @app.get("/api/v1/files")
    async def list_files(request: Request) -> Response:
        return await answer(request, lambda: emu.list_files(dict(request.query_params)), "data")

    @app.get("/api/v1/files/{file_id}")
    async def get_file(file_id: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_file(file_id), "data")

    @app.post("/api/v1/deployments")
    async def create_deployment(request: Request) -> Response:
        return await answer(request, lambda raw: emu.create_deployment(json_body(raw)), body=Request.body)

    @app.get("/api/v1/deployments")
    async def list_deployments(request: Request) -> Response:
        return await answer(request, lambda: emu.list_deployments(dict(request.query_params)))

    @app.get("/api/v1/deployments/models")
    async def list_deployable_models(request: Request) -> Response:
        return await answer(request, lambda: emu.list_deployable_models(dict(request.query_params)))

    @app.get("/api/v1/deployments/{deployed_model}")
    async def get_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(request, lambda: emu.get_deployment(deployed_model))

    @app.put("/api/v1/deployments/{deployed_model}/scale")
    async def scale_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(
            request, lambda raw: emu.scale_deployment(deployed_model, json_body(raw)), body=Request.body
        )

    @app.put("/api/v1/deployments/{deployed_model}/update")
    async def update_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(
            request, lambda raw: emu.update_deployment(deployed_model, json_body(raw)), body=Request.body
        )

    @app.delete("/api/v1/deployments/{deployed_model}")
    async def delete_deployment(deployed_model: str, request: Request) -> Response:
        return await answer(request, lambda: emu.delete_deployment(deployed_model))

    # --- admin: not part of the API. It changes what the API answers, so it needs the key too.

    def admin_key(request: Request) -> None:
        if not emu.authorized(request.headers.get("authorization", "")):
            raise HTTPException(401, "the admin API needs the emulator's key (Authorization: Bearer ...)")

    admin = APIRouter(prefix="/_emulator", dependencies=[Depends(admin_key)])

    @admin.post("/fail-next")
    async def fail_next(request: Request) -> Response:
        """The next ``count`` API requests get fault ``kind`` (or ``status``: 429, 500, 502, 503);
        a status fault with ``after`` is served first and only its answer fails; with ``method``
        only requests of that method (``POST``: creates and cancels) get it, with ``path`` only
        requests whose path matches that regular expression. Kind ``answer`` sends ``status``
        (default 200), ``body`` and ``headers`` (an object) instead of the API's answer."""
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
                tuple((str(name), str(value)) for name, value in dict(spec.get("headers") or {}).items()),
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
        names = ("job_seconds", "deploy_seconds", "cancel_seconds")
        try:
            return JSONResponse(emu.set_timing(**{k: spec[k] for k in names if k in spec}))
        except ValueError as err:
            return JSONResponse({"error": str(err)}, status_code=400)

    @admin.post("/misbehave")
    async def misbehave(request: Request) -> Response:
        """A server that answers wrongly or not for a while (``misbehaviour``): ``outage_seconds``
        and ``outage_status``, ``log_offsets``, ``capacity_lag``, ``sticky_deletes``."""
        spec = await request.json()
        try:
            emu.misbehaviour.configure(emu.clock(), spec if isinstance(spec, dict) else {})
        except (TypeError, ValueError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(emu.misbehaviour.summary(emu.clock()))

    @admin.get("/misbehave")
    async def show_misbehaviour() -> Response:
        return JSONResponse(emu.misbehaviour.summary(emu.clock()))

    @admin.post("/deployments/{deployed_model}/status")
    async def force_status(deployed_model: str, request: Request) -> Response:
        """Put a deployment in any ``status`` (one the API documents, or one it might add): it
        stays there until a scale, update or delete changes it."""
        status = (await request.json()).get("status")
        shown = (
            emu.force_deployment_status(deployed_model, status)
            if isinstance(status, str) and status
            else None
        )
        if shown is None:
            return JSONResponse({"error": "no such deployment, or no status string"}, status_code=400)
        return JSONResponse(shown)

    @admin.post("/deployment-rules")
    async def set_deployment_rules(request: Request) -> Response:
        """``delete_refused_in``: statuses in which a delete answers 400 UnsupportedOperation."""
        refused = (await request.json()).get("delete_refused_in", [])
        if not isinstance(refused, list) or not all(isinstance(x, str) for x in refused):
            return JSONResponse({"error": "delete_refused_in must be a list of statuses"}, status_code=400)
        emu.refuse_deletes_in(tuple(refused))
        return JSONResponse({"delete_refused_in": refused})

    @admin.get("/state")
    async def show_state(jobs: bool = True) -> Response:
        return JSONResponse(emu.state(resources=jobs))

    @admin.get("/jobs/{job_id}/logs")
    async def full_log(job_id: str) -> Response:
        lines = emu.full_log(job_id)
        if lines is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse({"logs": lines})

    @admin.post("/reset")
    async def reset() -> Response:
        emu.reset()
        return JSONResponse({"status": "reset"})

    app.include_router(admin)
    return app
