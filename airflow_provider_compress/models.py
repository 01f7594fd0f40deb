"""Typed views of the API's responses.

Attributes carry the API's own field names. Every model keeps the whole JSON object it was
built from (``to_dict()``), so fields the API adds later survive and can be read through
``model.extra`` or plain attribute access; nothing unknown is ever an error. A model returned by
a hook also carries the ``request_id`` of the answer it came in.

The fields the provider acts on (statuses, lists, totals, log lines) are checked for their JSON
type: an answer of another shape raises ``ValueError`` here, which the hooks report as
``InvalidResponseError``, instead of a log forwarded one character per line or a loop that never ends.

Longer than 400 lines on purpose: one small typed view per answer of the API (templates, jobs,
fine-tunes and checkpoints, files, deployments and deployable models), in the one module hooks,
operators and DAGs import them from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar, TypeVar

M = TypeVar("M", bound="ApiModel")


class JobStatus(str, Enum):
    """A job's state; compares equal to the API's strings."""

    PENDING = "PENDING"
    QUEUING = "QUEUING"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    def __str__(self) -> str:
        return self.value


def _status(known: type[Enum]):
    """The converter of a ``status`` field: a known status becomes a member of ``known``, an
    unknown one stays the API's string."""

    def convert(value: Any) -> Any:
        if value is None:
            return None
        _expect(value, str, "a status string")
        try:
            return known(value)
        except ValueError:
            return str(value)

    return convert


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiModel:
    """Base of the response models: typed known fields plus the raw object."""

    _raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    # The request_id of the answer this came in: quote it to support. Not part of to_dict().
    request_id: str | None = dataclasses.field(default=None, compare=False)
    # field name -> converter applied to that field's raw value
    _converters: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_api(cls: type[M], data: Mapping[str, Any] | None) -> M:
        if data is not None and not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        data = dict(data or {})
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name.startswith("_") or f.name not in data:
                continue
            convert = cls._converters.get(f.name)
            try:
                kwargs[f.name] = convert(data[f.name]) if convert else data[f.name]
            except (TypeError, ValueError) as err:
                raise ValueError(f"{cls.__name__}.{f.name}: {err}") from None
        return cls(_raw=data, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as the API sent it (JSON-safe, for XCom and trigger events)."""
        return dict(self._raw)

    @property
    def extra(self) -> dict[str, Any]:
        """Fields the API sent that this model does not declare."""
        known = {f.name for f in dataclasses.fields(self)}
        return {k: v for k, v in self._raw.items() if k not in known}

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not declared: expose fields the API added later.
        raw = self.__dict__.get("_raw", {})
        if name in raw:
            return raw[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")


def _expect(value: Any, types: type | tuple[type, ...], what: str) -> None:
    # A JSON true is no number here, though bool is an int in Python.
    if isinstance(value, bool) or not isinstance(value, types):
        raise ValueError(f"expected {what}, got {type(value).__name__} {str(value)[:40]!r}")


def _list_of(model: type[M]):
    def convert(items: Any) -> list[M]:
        if items is None:
            return []
        _expect(items, list, "a list")
        return [model.from_api(i) for i in items]

    return convert


def _count(value: Any) -> int:
    """A total, page number or size: a whole number >= 0 (digits in a string are accepted)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    _expect(value, int, "a whole number")
    if value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value}")
    return value


def _lines(value: Any) -> list[str]:
    if value is None:  # no lines at all
        return []
    _expect(value, list, "a list of log lines")
    for line in value:
        _expect(line, str, "log lines as strings")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Page(ApiModel):
    """A page of a list: its ``total`` and numbers; a subclass adds the list (``ResourceKind.items``)."""

    total: int = 0
    page_no: int = 1
    page_size: int = 10

    _converters: ClassVar[dict[str, Any]] = {"total": _count, "page_no": _count, "page_size": _count}


@dataclasses.dataclass(frozen=True, kw_only=True)
class HyperParameter(ApiModel):
    name: str = ""
    type: str | None = None
    display_name: str | None = None
    description: str | None = None
    defaultValue: str | None = None
    recommend_value: str | None = None
    required: bool = False
    support_values: list[str] | None = None
    data_range: list[str] | None = None
    step: int | float | None = None
    advancedParameter: bool | None = None
    is_advanced_parameter: bool | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Template(ApiModel):
    template_id: str = ""
    template_name: str | None = None
    description: str | None = None
    compress_type: str | None = None
    hyper_parameters: list[HyperParameter] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {"hyper_parameters": _list_of(HyperParameter)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomModel(ApiModel):
    model: str = ""
    model_name: str | None = None
    base_model: str | None = None
    templates: list[Template] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {"templates": _list_of(Template)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateList(ApiModel):
    base_models: list[str] = dataclasses.field(default_factory=list)
    custom_models: list[CustomModel] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {"custom_models": _list_of(CustomModel)}

    def find_template(self, model: str, template_id: str) -> Template | None:
        for custom in self.custom_models:
            if custom.model == model:
                for template in custom.templates:
                    if template.template_id == template_id:
                        return template
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobError(ApiModel):
    code: str | None = None
    message: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Job(ApiModel):
    job_id: str = ""
    job_name: str | None = None
    job_description: str | None = None
    status: JobStatus | str | None = None
    model: str | None = None
    base_model: str | None = None
    template_id: str | None = None
    template_name: str | None = None
    template_description: str | None = None
    training_type: str | None = None
    compress_type: str | None = None
    hyper_parameters: dict[str, Any] | None = None
    custom_calibration_file_ids: list[str] | None = None
    quantized_output: str | None = None
    create_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    error: JobError | None = None
    group: str | None = None
    usage: int | None = None

    _converters: ClassVar[dict[str, Any]] = {
        "status": _status(JobStatus),
        "error": lambda e: JobError.from_api(e) if isinstance(e, Mapping) else None,
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobPage(Page):
    jobs: list[Job] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {**Page._converters, "jobs": _list_of(Job)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobLogs(ApiModel):
    total: int = 0
    logs: list[str] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {"total": _count, "logs": _lines}


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperationResult(ApiModel):
    """The answer of cancel and delete: ``{"status": "success"}``."""

    status: str | None = None


# --- fine-tunes -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class FineTuneJob(ApiModel):
    """A fine-tune job; ``finetuned_output`` is the trained model (use it only once SUCCEEDED)."""

    job_id: str = ""
    job_name: str | None = None
    status: JobStatus | str | None = None
    model: str | None = None
    base_model: str | None = None
    finetuned_output: str | None = None
    training_type: str | None = None
    training_file_ids: list[str] | None = None
    validation_file_ids: list[str] | None = None
    hyper_parameters: dict[str, Any] | None = None
    model_name: str | None = None
    create_time: str | None = None
    end_time: str | None = None
    usage: int | None = None
    code: str | None = None
    message: str | None = None

    _converters: ClassVar[dict[str, Any]] = {"status": _status(JobStatus)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class FineTunePage(Page):
    jobs: list[FineTuneJob] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {**Page._converters, "jobs": _list_of(FineTuneJob)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Checkpoint(ApiModel):
    """A checkpoint a fine-tune saved. ``status`` is its export's: PENDING (saved, not exported),
    PROCESSING, SUCCEEDED (``model_name`` is the deployable model), FAILED or UNSUPPORTED. The
    last checkpoint of a SUCCEEDED job is its ``finetuned_output``."""

    checkpoint: str = ""
    full_name: str | None = None
    model_name: str | None = None
    status: str | None = None
    step: int | None = None
    create_time: str | None = None


def checkpoints_from_api(items: Any) -> list[Checkpoint]:
    """The checkpoint list's ``output``: a JSON array."""
    return _list_of(Checkpoint)(items)


# --- files ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class UploadedFile(ApiModel):
    """A file that jobs take by ``file_id`` (training data, calibration data). The upload's
    answer names only ``file_id`` and ``name``; the list and get answers add the rest."""

    file_id: str = ""
    name: str | None = None
    description: str | None = None
    purpose: str | None = None
    size: int | None = None
    md5: str | None = None
    gmt_create: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FailedUpload(ApiModel):
    name: str | None = None
    code: str | None = None
    message: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileUpload(ApiModel):
    """The answer of an upload: HTTP 200 also when a file was refused (``failed_uploads``)."""

    uploaded_files: list[UploadedFile] = dataclasses.field(default_factory=list)
    failed_uploads: list[FailedUpload] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {
        "uploaded_files": _list_of(UploadedFile),
        "failed_uploads": _list_of(FailedUpload),
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilePage(Page):
    files: list[UploadedFile] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {**Page._converters, "files": _list_of(UploadedFile)}


# --- deployments ------------------------------------------------------------------------------


class DeploymentStatus(str, Enum):
    """A deployment's state. RUNNING serves (and bills); the API documents no complete list."""

    PENDING = "PENDING"
    DEPLOYING = "DEPLOYING"
    RUNNING = "RUNNING"
    UPDATING = "UPDATING"
    UPDATING_FAILED = "UPDATING_FAILED"
    SCALING = "SCALING"
    WAIT_PRE_PAID_BILLING_TO_SCALING = "WAIT_PRE_PAID_BILLING_TO_SCALING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    ARREARS_DOWN = "ARREARS_DOWN"
    ARREARS_RECOVERING = "ARREARS_RECOVERING"
    OFFLINING = "OFFLINING"
    DELETING = "DELETING"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Deployment(ApiModel):
    """A deployed service; call inference with ``deployed_model``."""

    deployed_model: str = ""
    name: str | None = None
    model_name: str | None = None
    base_model: str | None = None
    status: DeploymentStatus | str | None = None
    plan: str | None = None
    base_capacity: int | None = None
    capacity: int | None = None
    ready_capacity: int | None = None
    charge_type: str | None = None
    workspace_id: str | None = None
    gmt_create: str | None = None
    gmt_modified: str | None = None

    _converters: ClassVar[dict[str, Any]] = {"status": _status(DeploymentStatus)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeploymentPage(Page):
    deployments: list[Deployment] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {**Page._converters, "deployments": _list_of(Deployment)}


# --- deployable models (GET /deployments/models) ----------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployTemplate(ApiModel):
    """An MU deployment template: ``template_id`` (or ``deploy_spec``) is what a create names, and
    ``roles.*.capacity_unit_per_instance`` the base capacity a capacity is a multiple of."""

    template_id: str | None = None
    template_name: str | None = None
    template_type: str | None = None  # COUPLED, or SEPERATED (prefill and decode roles)
    charge_type: str | None = None
    deploy_spec: str | None = None
    roles: dict[str, Any] | None = None

    def spec_ids(self) -> list[str]:
        """The names a create may give for this template: its id, its spec, its roles' unit spec."""
        roles = [r.get("model_unit_spec") for r in (self.roles or {}).values() if isinstance(r, Mapping)]
        names = [self.template_id, self.deploy_spec, *roles]
        return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))

    @property
    def base_capacity(self) -> int | None:
        """Units per instance of a coupled template (``roles.unified``); None when not listed."""
        unified = (self.roles or {}).get("unified")
        units = unified.get("capacity_unit_per_instance") if isinstance(unified, Mapping) else None
        return units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else None


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployPlan(ApiModel):
    plan: str = ""
    templates: list[DeployTemplate] = dataclasses.field(default_factory=list)
    cu_specs: list[str] | None = None

    _converters: ClassVar[dict[str, Any]] = {"templates": _list_of(DeployTemplate)}


def _plans(items: Any) -> list[DeployPlan]:
    """Plans as objects (``{"plan": "mu", "templates": [...]}``) or as bare names (``"mu"``)."""
    if items is None:
        return []
    _expect(items, list, "a list of plans")
    return [DeployPlan.from_api({"plan": i} if isinstance(i, str) else i) for i in items]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployableModel(ApiModel):
    """A model that may be deployed, with the plans it may be deployed with."""

    model_name: str = ""
    base_model: str | None = None
    model_source: str | None = None
    plans: list[DeployPlan] = dataclasses.field(default_factory=list)
    supported_plans: list[str] | None = None  # an older answer's bare plan names
    templates: list[DeployTemplate] = dataclasses.field(default_factory=list)  # beside the plans

    _converters: ClassVar[dict[str, Any]] = {"plans": _plans, "templates": _list_of(DeployTemplate)}

    def plan_names(self) -> list[str]:
        names = [p.plan for p in self.plans] + list(self.supported_plans or [])
        return list(dict.fromkeys(n for n in names if n))

    def mu_templates(self) -> list[DeployTemplate]:
        """The MU templates, whether listed under the ``mu`` plan or beside the plans."""
        nested = [t for p in self.plans if p.plan == "mu" for t in p.templates]
        return nested + list(self.templates)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeployableModelPage(Page):
    page_size: int = 50
    models: list[DeployableModel] = dataclasses.field(default_factory=list)

    _converters: ClassVar[dict[str, Any]] = {**Page._converters, "models": _list_of(DeployableModel)}
