"""One frozen spec per create request: ``CompressJobSpec``, ``FineTuneJobSpec``, ``DeploymentSpec``;
and ``ScaleSpec``, a deployment's scale.

A spec is the one owner of a request's fields. Building it checks them (bad input fails
before any request), and an iterator given for a list is read once, there. It renders the request
body, and it says where a resource made by an earlier try differs from it, so that a retry
reattaches only to a resource made as the task asks. Operators build a spec from their templated
arguments; hooks take one, or build one from keyword arguments.

The checks that need what the API says are the spec's too: ``check_template``,
``check_deployable`` and ``check_scalable`` take the API's answer (a template, a deployable model,
the deployment) and raise ``CompressValidationError`` naming the field and the rule; the operators
(``check_before_create``) and ``CompressHook.create_job`` fetch the answer.

Longer than 400 lines on purpose: every request's fields and checks stay in the one module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from airflow_provider_compress import protocol, validation
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.models import ApiModel, DeployableModel, Deployment, Template
from airflow_provider_compress.protocol import ApiCall, ApiRequest, ResourceKind

S = TypeVar("S", bound="CreateSpec")
_LEFT_OUT = object()  # the API's answer does not carry the field: nothing to compare


@dataclasses.dataclass(frozen=True)
class Difference:
    """A field in which an existing resource differs from what the spec asks for."""

    field: str
    asked: Any
    found: Any

    def __str__(self) -> str:
        return f"{self.field}: this task asks for {_json(self.asked)!r}, it has {self.found!r}"


class CreateSpec:
    """What every spec shares; a subclass is a frozen dataclass of the request's fields."""

    kind: ClassVar[ResourceKind]
    # Fields the API shows only once the resource is done: compared again at the end of a wait.
    late_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def of(cls: type[S], spec: S | None, fields: Mapping[str, Any]) -> S:
        """``spec``, or one built from ``fields``: the hooks' create methods take either."""
        if spec is None:
            return cls(**fields)
        if fields or not isinstance(spec, cls):
            raise TypeError(f"pass a {cls.__name__} or its fields as keyword arguments, not both")
        return spec

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def with_name(self: S, name: str | None) -> S:
        """This spec with the resource name ``name`` (``job_name``, or a deployment's ``name``)."""
        return dataclasses.replace(self, **{self.kind.name_field: name})  # type: ignore[type-var]

    def body(self) -> dict[str, Any]:
        """The JSON body of the create request; fields left as None are not sent."""
        return {
            name: _json(value) for name in self.field_names() if (value := getattr(self, name)) is not None
        }

    @property
    def retry_safe(self) -> bool:
        """Whether the create may be sent again after an unknown outcome without a duplicate."""
        return False

    def call(self, lang: str | None = None) -> ApiCall[Any]:
        request = ApiRequest(
            "POST", self.kind.collection, {"lang": lang}, self.body(), idempotent=self.retry_safe
        )
        return ApiCall(request, self.kind.model.from_api)

    def differences(self, resource: ApiModel) -> list[Difference]:
        """Where ``resource`` differs from this spec, among the fields the API echoes back."""
        raise NotImplementedError


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    return value


def _set(spec: object, field: str, value: Any) -> None:
    object.__setattr__(spec, field, value)  # a frozen dataclass normalising its own input


def _echoed(resource: ApiModel, field: str) -> Any:
    """The field as the API sent it (None included), or _LEFT_OUT when the answer lacks it."""
    return resource.to_dict().get(field, _LEFT_OUT)


def _compare(
    found: list[Difference],
    field: str,
    asked: Any,
    echoed: Any,
    same: Callable[[Any, Any], bool] = lambda a, b: a == b,
) -> None:
    if echoed is not _LEFT_OUT and not same(asked, echoed):
        found.append(Difference(field, asked, echoed))


def _same_ids(asked: Iterable[str] | None, echoed: Iterable[str] | None) -> bool:
    """File id lists compare as sets; none asked for and none echoed ([] or null) are equal."""
    return set(asked or ()) == set(echoed or ())


def _hyper_parameter_differences(asked: Mapping[str, Any] | None, echoed: Any) -> list[Difference]:
    """Only the keys the task set: the answer also holds the template's defaults."""
    if not asked or not isinstance(echoed, Mapping):
        return []
    return [
        Difference(f"hyper_parameters.{name}", value, echoed[name])
        for name, value in asked.items()
        if name in echoed and not validation.same_value(value, echoed[name])
    ]


def _when_asked(asked: Any, echoed: Any) -> Any:
    """Compare a field only when the task set it (left out, the API's default applies)."""
    return _LEFT_OUT if asked is None else echoed


# --- compression (API section 5.2) ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompressJobSpec(CreateSpec):
    """A compression job: the body of ``POST /api/v1/fine-tunes/compress/jobs``.

    :param model: the custom (full-parameter) fine-tuned model to compress.
    :param template_id: the compression template (``CompressHook.list_templates``).
    :param job_name: unique per user; at most 50 characters.
    :param job_description: free text, at most 200 characters.
    :param hyper_parameters: overrides of the template's hyper-parameters.
    :param custom_calibration_file_ids: calibration dataset file ids (a list, or any iterable:
        it is read once).
    :param output_model_suffix: 1 to 8 of a-z0-9, part of the output model's name.
    """

    model: str
    template_id: str
    job_name: str | None = None
    job_description: str | None = None
    hyper_parameters: Mapping[str, Any] | None = None
    custom_calibration_file_ids: Iterable[str] | None = None
    output_model_suffix: str | None = None

    kind: ClassVar[ResourceKind] = protocol.COMPRESS
    late_fields: ClassVar[tuple[str, ...]] = ("output_model_suffix",)

    def __post_init__(self) -> None:
        validation.check_text("model", self.model, required=True)
        validation.check_text("template_id", self.template_id, required=True)
        validation.check_text("job_name", self.job_name, limit=validation.JOB_NAME_MAX)
        validation.check_text("job_description", self.job_description, limit=validation.JOB_DESCRIPTION_MAX)
        validation.check_suffix("output_model_suffix", self.output_model_suffix)
        _set(self, "hyper_parameters", validation.mapping("hyper_parameters", self.hyper_parameters))
        files = validation.file_ids("custom_calibration_file_ids", self.custom_calibration_file_ids)
        _set(self, "custom_calibration_file_ids", files)

    @property
    def retry_safe(self) -> bool:
        # Job names are unique per user: repeating a named create cannot make a second job.
        return self.job_name is not None

    def check_template(self, template: Template | None) -> None:
        """Fail before the create when ``hyper_parameters`` break the rules of ``template`` (this
        spec's, from ``CompressHook.get_template``). None (an unknown model or template) is left
        to the API, whose error says which (LoRA, base model...)."""
        if template is not None:
            validation.check_hyper_parameters(template, self.hyper_parameters)

    def differences(self, resource: ApiModel) -> list[Difference]:
        found: list[Difference] = []
        _compare(found, "model", self.model, _echoed(resource, "model"))
        _compare(found, "template_id", self.template_id, _echoed(resource, "template_id"))
        _compare(found, "output_model_suffix", self.output_model_suffix, _output_suffix(resource))
        files = "custom_calibration_file_ids"
        _compare(found, files, self.custom_calibration_file_ids, _echoed(resource, files), _same_ids)
        return found + _hyper_parameter_differences(
            self.hyper_parameters, _echoed(resource, "hyper_parameters")
        )


def _output_suffix(job: ApiModel) -> Any:
    """The job's ``output_model_suffix``: echoed, or read from ``quantized_output``
    (``{base_model}-{suffix}-{job_id}``, section 4), which exists once the job SUCCEEDED."""
    echoed = _echoed(job, "output_model_suffix")
    if echoed is not _LEFT_OUT:
        return echoed or None
    output, base, job_id = (getattr(job, f, None) for f in ("quantized_output", "base_model", "job_id"))
    if not (output and base and job_id):
        return _LEFT_OUT
    if output == f"{base}-{job_id}":
        return None
    suffix = output.removeprefix(f"{base}-").removesuffix(f"-{job_id}")
    return suffix if output == f"{base}-{suffix}-{job_id}" else _LEFT_OUT


# --- fine-tunes -------------------------------------------------------------------------------

TRAINING_TYPES = ("cpt", "sft", "efficient_sft", "dpo_full", "dpo_lora")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FineTuneJobSpec(CreateSpec):
    """A fine-tune job: the body of ``POST /api/v1/fine-tunes``.

    :param model: the base model (or an earlier fine-tune's output) to train.
    :param training_file_ids: uploaded training file ids (or ``training_datasets``).
    :param training_datasets: ``[{"data_source_type": "file_id", "file_id": ...}]`` (file ids or
        OSS folders), the newer form.
    :param validation_file_ids: validation file ids; without them a split of the training data.
    :param validation_datasets: validation datasets, the newer form.
    :param hyper_parameters: ``n_epochs``, ``learning_rate``, ``batch_size``, ...
    :param training_type: ``sft`` (the compressible qwen3.5-flash), ``cpt``, ``efficient_sft``,
        ``dpo_full`` or ``dpo_lora``.
    :param job_name: the job's name.
    :param model_name: the display name of the produced model.
    :param finetuned_output_suffix: part of the produced model's id.
    """

    model: str
    training_file_ids: Iterable[str] | None = None
    training_datasets: Iterable[Mapping[str, Any]] | None = None
    validation_file_ids: Iterable[str] | None = None
    validation_datasets: Iterable[Mapping[str, Any]] | None = None
    hyper_parameters: Mapping[str, Any] | None = None
    training_type: str | None = None
    job_name: str | None = None
    model_name: str | None = None
    finetuned_output_suffix: str | None = None

    kind: ClassVar[ResourceKind] = protocol.FINE_TUNE

    def __post_init__(self) -> None:
        validation.check_text("model", self.model, required=True)
        validation.check_text("job_name", self.job_name)
        for field in ("training_file_ids", "validation_file_ids"):
            _set(self, field, validation.file_ids(field, getattr(self, field)))
        for field in ("training_datasets", "validation_datasets"):
            _set(self, field, validation.datasets(field, getattr(self, field)) or None)
        if not self.training_file_ids and not self.training_datasets:
            raise CompressValidationError(
                "training_file_ids", "training_file_ids or training_datasets is required"
            )
        if self.training_type is not None and self.training_type not in TRAINING_TYPES:
            raise CompressValidationError(
                "training_type", f"must be one of {', '.join(TRAINING_TYPES)}", self.training_type
            )
        _set(self, "hyper_parameters", validation.mapping("hyper_parameters", self.hyper_parameters))

    # No documented uniqueness or idempotency key: a create is never repeated blindly.

    def differences(self, resource: ApiModel) -> list[Difference]:
        found: list[Difference] = []
        _compare(found, "model", self.model, _echoed(resource, "model"))
        for field in ("training_type", "model_name", "training_datasets", "validation_datasets"):
            asked = getattr(self, field)
            _compare(found, field, _json(asked), _when_asked(asked, _echoed(resource, field)))
        for field in ("training_file_ids", "validation_file_ids"):
            _compare(found, field, getattr(self, field), _echoed(resource, field), _same_ids)
        return found + _hyper_parameter_differences(
            self.hyper_parameters, _echoed(resource, "hyper_parameters")
        )


# --- deployments ------------------------------------------------------------------------------

PLANS = ("mu", "ptu", "lora", "cu")
CAPACITY_MAX = 999


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeploymentSpec(CreateSpec):
    """A deployment: the body of ``POST /api/v1/deployments``.

    :param model_name: the model to deploy.
    :param name: display name.
    :param plan: ``mu`` (model units; full-parameter and compressed models; the default),
        ``ptu``, ``lora`` or ``cu``.
    :param capacity: units (``mu``) or instances (``cu``), a multiple of the model's base
        capacity; a numeric string is read as a number.
        Sent as 1 for ``lora`` when not given (ignored there, but it must be sent).
    :param deploy_spec: MU spec for ``mu``, e.g. ``MU1``.
    :param billing_method: ``POST_PAY`` (the default for ``mu``).
    :param template_id: MU deployment template, instead of ``deploy_spec``.
    :param suffix: 1 to 8 of a-z0-9, needed when the same model is deployed again.
    :param ptu_capacity: ``{"input_tpm": ..., "output_tpm": ...}`` for ``ptu``.
    :param extra: further body fields (``enable_thinking``, ``rpm_limit``, ...). One of the
        fields above given here is that field; given both ways with different values, it is an
        error naming the field.
    """

    model_name: str
    name: str | None = None
    plan: str | None = None  # "mu" unless given (as a field or in extra)
    capacity: int | None = None
    deploy_spec: str | None = None
    billing_method: str | None = None
    template_id: str | None = None
    suffix: str | None = None
    ptu_capacity: Mapping[str, int] | None = None
    extra: Mapping[str, Any] | None = None

    kind: ClassVar[ResourceKind] = protocol.DEPLOYMENT

    def __post_init__(self) -> None:
        self._merge_extra()
        if self.plan is None:
            _set(self, "plan", "mu")
        validation.check_text("model_name", self.model_name, required=True)
        if self.plan not in PLANS:
            raise CompressValidationError("plan", f"must be one of {', '.join(PLANS)}", self.plan)
        _set(self, "capacity", capacity := validation.rendered_int(self.capacity))
        if capacity is not None:
            validation.check_int_range("capacity", capacity, 0, CAPACITY_MAX)
        if self.plan == "mu":
            if capacity is None or capacity < 1:
                raise CompressValidationError(
                    "capacity", "is required for plan 'mu' (model units, >= 1)", capacity
                )
            if not self.deploy_spec and not self.template_id:
                raise CompressValidationError("deploy_spec", "is required for plan 'mu' (e.g. MU1)")
        if self.plan == "cu" and capacity is None:
            raise CompressValidationError("capacity", "is required for plan 'cu' (instances)")
        if self.plan == "ptu" and not self.ptu_capacity:
            raise CompressValidationError(
                "ptu_capacity", "is required for plan 'ptu' (input_tpm, output_tpm)"
            )
        validation.check_suffix("suffix", self.suffix)
        _set(self, "ptu_capacity", validation.mapping("ptu_capacity", self.ptu_capacity))

    def _merge_extra(self) -> None:
        """A field given in ``extra`` is that field (``extra={"capacity": 2}`` is ``capacity=2``);
        given both ways with different values, it is an error naming it, never a silent choice."""
        extra = validation.mapping("extra", self.extra) or {}
        for key in [k for k in extra if k in self.field_names() and k != "extra"]:
            value, named = extra.pop(key), getattr(self, key)
            if named is None:
                _set(self, key, value)
            elif not validation.same_value(named, value):
                raise CompressValidationError(
                    key, f"is given both as a parameter ({named!r}) and in extra ({value!r}): give it once"
                )
        _set(self, "extra", extra or None)

    def body(self) -> dict[str, Any]:
        body = super().body()
        extra = body.pop("extra", {})
        if self.plan == "mu":
            body.setdefault("billing_method", "POST_PAY")  # the only one the API accepts for mu
        if self.plan == "lora":
            # The guide: ignored for lora, but it must be sent (the fact sheet's D.5).
            body.setdefault("capacity", 1)
        return {**extra, **body}

    def check_deployable(self, model: DeployableModel) -> None:
        """Fail before the create when ``model`` (an item of ``GET /deployments/models``) lists
        neither this plan nor this MU spec, or the capacity is no multiple of the spec's base
        capacity; the error names the field and what the model allows. What the model does not
        list is left to the API."""
        plans = model.plan_names()
        if plans and self.plan not in plans:
            rule = f"{self.model_name} can be deployed with plan {' or '.join(plans)}"
            raise CompressValidationError("plan", rule, self.plan)
        templates = model.mu_templates() if self.plan == "mu" else []
        if not templates:
            return
        field, wanted = (
            ("deploy_spec", self.deploy_spec) if self.deploy_spec else ("template_id", self.template_id)
        )
        template = next((t for t in templates if wanted in t.spec_ids()), None)
        if template is None:
            allowed = ", ".join(dict.fromkeys(t.spec_ids()[0] for t in templates if t.spec_ids()))
            raise CompressValidationError(field, f"{self.model_name} can be deployed with {allowed}", wanted)
        unit = template.base_capacity
        if unit and self.capacity is not None and self.capacity % unit:
            rule = f"must be a multiple of {unit}, the base capacity of {wanted} ({unit}, {2 * unit}, ...)"
            raise CompressValidationError("capacity", rule, self.capacity)

    # Billed once running and no idempotency key: a create is never repeated blindly.

    def differences(self, resource: ApiModel) -> list[Difference]:
        found: list[Difference] = []
        _compare(found, "model_name", self.model_name, _echoed(resource, "model_name"))
        _compare(found, "plan", self.plan, _echoed(resource, "plan"))
        _compare(found, "capacity", self.capacity, _when_asked(self.capacity, _echoed(resource, "capacity")))
        # The MU spec comes back as model_unit_spec (API object, MU fields).
        echoed_spec = _echoed(resource, "model_unit_spec")
        _compare(found, "deploy_spec", self.deploy_spec, _when_asked(self.deploy_spec, echoed_spec))
        return found


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScaleSpec:
    """A deployment's scale: ``PUT /api/v1/deployments/{deployed_model}/scale``, checked by
    ``protocol.scale_deployment``; a numeric string ``capacity`` is read as a number."""

    deployed_model: str
    capacity: int | None = None
    ptu_capacity: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        _set(self, "capacity", validation.rendered_int(self.capacity))

    def call(self) -> ApiCall[Deployment]:
        return protocol.scale_deployment(self.deployed_model, self.capacity, self.ptu_capacity)

    def check_scalable(self, deployment: Deployment) -> None:
        """Fail before the scale when ``deployment`` (as ``GET /deployments/{id}`` shows it) is a
        LoRA deployment (scaled in the console only), has another plan than the capacity given
        is for, or a base capacity of which ``capacity`` is no multiple."""
        plan, base, capacity, deployed = (
            deployment.plan,
            deployment.base_capacity,
            self.capacity,
            self.deployed_model,
        )
        if plan == "lora":
            raise CompressValidationError(
                "deployed_model",
                "is a LoRA deployment: those are scaled in the console, not by API",
                deployed,
            )
        if self.ptu_capacity is not None and plan not in (None, "ptu"):
            raise CompressValidationError(
                "ptu_capacity", f"is for plan ptu; {deployed} is plan {plan}: give capacity"
            )
        if capacity is not None and plan == "ptu":
            raise CompressValidationError("capacity", f"{deployed} is plan ptu: give ptu_capacity")
        if capacity is not None and isinstance(base, int) and base > 1 and capacity % base:
            raise CompressValidationError(
                "capacity", f"must be a multiple of {deployed}'s base capacity {base}", capacity
            )
