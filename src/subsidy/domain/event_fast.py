"""The hot path's event validation: each contract model's rules compiled into a msgspec struct."""

# Each model's fields are translated once, from the pydantic model itself (types, Strict, lengths,
# bounds, its validators), into a msgspec struct that checks types and bounds as it decodes, and the
# Python validators that remain. `build_or_none` returns an event only when every check passes,
# built exactly as pydantic builds it; anything else, odd or invalid, returns None and the caller
# asks pydantic (the reference, whose errors name the field). So this path can only be faster: it
# never accepts more nor answers differently.

import inspect
import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic import AfterValidator, BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)
Check = Callable[[Any], Any]
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class _Plan:
    """One model compiled: its wire struct, and the function building the model from it."""

    model: type[BaseModel]
    struct: type[msgspec.Struct]
    build: Callable[[msgspec.Struct], BaseModel]


def _flatten(tp: Any, meta: list[Any]) -> tuple[Any, list[Any], bool]:
    """(base type, metadata, optional) with Annotated and Field(...) unpacked."""
    optional = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *more = get_args(tp)
            meta = [*more, *meta]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1 or len(args) == len(get_args(tp)):
                raise TypeError(f"fast validation does not know {tp!r}")
            tp, optional = args[0], True
        else:
            break
    flat: list[Any] = []
    for m in meta:
        flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return tp, flat, optional


_KNOWN = (at.MinLen, at.MaxLen, at.Ge, at.Le, AfterValidator, BeforeValidator)


def _wire_type(tp: Any, meta: list[Any]) -> tuple[Any, list[Check]]:
    """The msgspec type that checks what the core validation does, and the Python checks after.
    TypeError for anything whose meaning this path does not reproduce exactly."""
    bounds: dict[str, Any] = {}
    strict = False
    for m in meta:
        if type(m).__name__ == "Strict":
            strict = bool(m.strict)
        elif isinstance(m, at.MinLen):
            bounds["min_length"] = m.min_length
        elif isinstance(m, at.MaxLen):
            bounds["max_length"] = m.max_length
        elif isinstance(m, at.Ge):
            bounds["ge"] = m.ge
        elif isinstance(m, at.Le):
            bounds["le"] = m.le
        elif not isinstance(m, _KNOWN):
            raise TypeError(f"fast validation does not know {m!r}")
    before = [_plain(m.func) for m in meta if isinstance(m, BeforeValidator)]
    after = [_plain(m.func) for m in meta if isinstance(m, AfterValidator)]
    constrained: Any = Annotated[tp, msgspec.Meta(**bounds)] if bounds else tp
    if before:
        return _before(tp, before, bounds, after)
    if tp is str or (tp in (int, bool) and strict):
        # A decoded str is the only str; msgspec's int refuses bools and floats, as strict does.
        return constrained, after
    if tp is float and not strict:
        # msgspec's float takes ints, as lax float does; NaN and infinities are refused as
        # allow_inf_nan=False refuses them (a decoder reads none, a protobuf double may hold one).
        return constrained, [_finite, *after]
    if isinstance(tp, type) and issubclass(tp, Enum) and issubclass(tp, str) and not bounds:
        return tp, after  # decoded by value, the same members
    raise TypeError(f"fast validation does not know {tp!r} (strict={strict})")


def _plain(func: Any) -> Check:
    """A validator taking the value alone (one taking ValidationInfo is not reproduced)."""
    if len(inspect.signature(func).parameters) != 1:
        raise TypeError(f"fast validation: {func!r} takes more than the value")
    return cast(Check, func)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("not finite")
    return v


def _before(
    tp: Any, before: list[Check], bounds: dict[str, Any], after: list[Check]
) -> tuple[Any, list[Check]]:
    """The two fields with a BeforeValidator: a date, and fen (an integer or a digit string)."""
    if bounds or len(before) != 1:
        raise TypeError("fast validation: a BeforeValidator with more")
    if tp is date:
        # msgspec reads exactly YYYY-MM-DD naming a real day: what _calendar_date accepts.
        return date, after
    if tp is int:
        positive = Annotated[int, msgspec.Meta(ge=1, le=_INT64_MAX)]
        return positive | str, [_only_str(before[0]), *after]
    raise TypeError(f"fast validation does not know {tp!r} behind a BeforeValidator")


def _only_str(check: Check) -> Check:
    """The fen validator for digit strings (integers were bounded by msgspec as it would)."""
    return lambda v: check(v) if type(v) is str else v


_PLANS: dict[type[BaseModel], _Plan] = {}


def compile_model(model: type[BaseModel]) -> _Plan:
    """A model as a struct and checks; TypeError for anything this path does not reproduce."""
    if model in _PLANS:
        return _PLANS[model]
    config = model.model_config
    if config.get("extra") != "forbid" or config.get("allow_inf_nan", True):
        raise TypeError(f"{model.__name__}: only closed models without inf/nan")
    decorators = model.__pydantic_decorators__
    if decorators.model_validators or decorators.validators or decorators.root_validators:
        raise TypeError(f"{model.__name__}: model validators are not reproduced")
    validators: dict[str, list[Check]] = {}
    for name, dec in decorators.field_validators.items():
        if dec.info.mode != "after":
            raise TypeError(f"{model.__name__}.{name}: only after-validators")
        for f in dec.info.fields:
            validators.setdefault(f, []).append(_plain(getattr(model, name)))
    fields: list[Any] = []
    steps: dict[str, list[Check]] = {}
    nested: dict[str, _Plan] = {}
    for name, info in model.model_fields.items():
        wire, after = _field(model, name, info, nested)
        steps[name] = [*after, *validators.get(name, [])]
        # An optional field left out is None; one given as null is refused here (pydantic
        # decides): so a field is in the fields set iff its value is not None.
        fields.append((name, wire) if info.is_required() else (name, wire, None))
    struct = msgspec.defstruct(
        f"{model.__name__}Wire", fields, kw_only=True, forbid_unknown_fields=True,
        rename={n: i.alias or n for n, i in model.model_fields.items()},
    )  # fmt: skip
    plan = _Plan(model, struct, _builder(model, steps, nested))
    _PLANS[model] = plan
    return plan


def _field(
    model: type[BaseModel], name: str, info: FieldInfo, nested: dict[str, _Plan]
) -> tuple[Any, list[Check]]:
    if not info.is_required() and info.default is not None:
        raise TypeError(f"{model.__name__}.{name}: only None defaults")
    tp, meta, optional = _flatten(info.annotation, list(info.metadata))
    if optional == info.is_required():
        raise TypeError(f"{model.__name__}.{name}: optional iff it defaults to None")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if meta:
            raise TypeError(f"{model.__name__}.{name}: a model with constraints")
        if tp.model_config.get("extra") != "forbid":
            # A model of other rules (submittedBy ignores unknown keys): pydantic validates it.
            return dict[str, Any], [lambda v: None if v is None else tp.model_validate(v)]
        plan = compile_model(tp)
        nested[name] = plan
        return plan.struct, []
    return _wire_type(tp, meta)


_set = object.__setattr__


def _builder(
    model: type[BaseModel], steps: dict[str, list[Check]], nested: dict[str, _Plan]
) -> Callable[[msgspec.Struct], BaseModel]:
    """A function building `model` from its wire struct as pydantic's validation leaves it:
    every field in __dict__ in the model's order, the fields given as its fields set. Written
    out field by field (a loop over two dozen fields cost more than pydantic itself)."""
    scope: dict[str, Any] = {"_model": model, "_set": _set}
    values, given = [], []
    required = {n for n, i in model.model_fields.items() if i.is_required()}
    for i, name in enumerate(model.model_fields):
        expr = "v"
        for j, step in enumerate(steps[name]):
            scope[f"_c{i}_{j}"] = step
            expr = f"_c{i}_{j}({expr})"
        if name in nested:
            scope[f"_b{i}"] = nested[name].build
            expr = f"_b{i}(v)"
        if name in required:
            values.append(f"{name!r}: {expr.replace('v', f'w.{name}', 1)},")
        else:
            values.append(f"{name!r}: None if (v := w.{name}) is None else {expr},")
            given.append(f"    if w.{name} is not None: given.add({name!r})")
    source = "\n".join([
        "def build(w):",
        "    values = {", *(f"        {v}" for v in values), "    }",
        f"    given = {set(required) or 'set()'!r}", *given,
        "    instance = _model.__new__(_model)",
        "    _set(instance, '__dict__', values)",
        "    _set(instance, '__pydantic_fields_set__', given)",
        "    _set(instance, '__pydantic_extra__', None)",
        "    _set(instance, '__pydantic_private__', None)",
        "    return instance",
    ])  # fmt: skip
    exec(compile(source, f"<event_fast {model.__name__}>", "exec"), scope)
    return scope["build"]  # type: ignore[no-any-return]


_DECODERS: dict[type[BaseModel], Callable[[Any], Any]] = {}


def parse_json_or_none(model: type[M], line: str | bytes) -> M | None:
    """`model` from one JSON document, or None when pydantic must decide."""
    decode = _DECODERS.get(model)
    if decode is None:
        decode = _DECODERS[model] = msgspec.json.Decoder(compile_model(model).struct).decode
    try:
        return compile_model(model).build(decode(line))  # type: ignore[return-value]
    except Exception:  # any surprise at all: the reference decides, never this path
        return None


def build_or_none(model: type[M], data: object) -> M | None:
    """`model` from decoded values (a dict in the JSON shape), or None when pydantic must
    decide. The values are checked by msgspec's conversion (strict: no str to int) first."""
    try:
        plan = compile_model(model)
        wire = msgspec.convert(data, plan.struct, strict=True)
        return plan.build(wire)  # type: ignore[return-value]
    except Exception:  # any surprise at all: the reference decides, never this path
        return None
