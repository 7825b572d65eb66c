"""An event's canonical JSON, the content hash's input: pydantic's bytes, written by msgspec."""

# The hash is the event's identity in every inbox (a redelivery is known by it), so these bytes must
# stay exactly those of `model_dump_json(by_alias=True, exclude_none=True)`: fields in the model's
# order under their aliases, None left out, compact, UTF-8 unescaped. msgspec writes the same bytes
# for the values a validated event holds (str, int, bool, date, str enums, and floats within the
# contract's bounds), about twice as fast; anything else is left to pydantic.

from collections.abc import Callable
from operator import itemgetter
from typing import Any

import msgspec
from pydantic import BaseModel

# Below this, msgspec and pydantic write every float alike (beyond it, pydantic writes
# `1e+16` and msgspec `1e16`). The contract bounds its one float at 1e9.
_FLOAT_SAME_BELOW = 1e15


class _Unsure(Exception):
    """A value msgspec might write otherwise than pydantic: pydantic writes the event."""


# The struct mirroring a model's dumped fields, how to read their values from an instance's
# __dict__, and the positions of those that may hold a float.
_Canon = tuple[type[msgspec.Struct], Callable[[dict[str, Any]], tuple[Any, ...]], tuple[int, ...]]
_CANON: dict[type[BaseModel], _Canon] = {}


def _canon_of(model: type[BaseModel]) -> _Canon:
    """`model`'s canonical struct: every field None by default, and left out when None (as
    exclude_none), under its alias, in the model's order."""
    found = _CANON.get(model)
    if found is not None:
        return found
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        raise _Unsure(model.__name__)
    names = [n for n, i in model.model_fields.items() if not i.exclude]
    struct = msgspec.defstruct(
        f"{model.__name__}Canonical", [(n, Any, None) for n in names], omit_defaults=True,
        rename={n: model.model_fields[n].alias or n for n in names},
    )  # fmt: skip
    floats = tuple(
        i for i, n in enumerate(names) if "float" in repr(model.model_fields[n].annotation)
    )

    values = itemgetter(*names) if len(names) > 1 else lambda d: (d[names[0]],)
    _CANON[model] = (struct, values, floats)
    return _CANON[model]


def _canonical(obj: object) -> msgspec.Struct:
    """A model instance (the event, its payload) as its canonical struct. The values are those
    the model validated (str, int, bool, date, str enums, nested models): msgspec refuses any
    other type it has no rule for, and a float is checked against the range written alike."""
    canon = _CANON.get(type(obj))  # type: ignore[arg-type]
    if canon is None:
        if not isinstance(obj, BaseModel):
            raise _Unsure(type(obj).__name__)
        canon = _canon_of(type(obj))
    struct, values, floats = canon
    fields = values(obj.__dict__)
    for i in floats:
        v = fields[i]
        if v is not None and not (type(v) is float and abs(v) < _FLOAT_SAME_BELOW):
            raise _Unsure("float")
    return struct(*fields)


_encode = msgspec.json.Encoder(enc_hook=_canonical).encode


def canonical_json(event: BaseModel) -> bytes:
    """The event's canonical JSON bytes (those pydantic writes, see the comment at the top)."""
    try:
        return _encode(_canonical(event))
    except _Unsure:
        return event.model_dump_json(by_alias=True, exclude_none=True).encode()
