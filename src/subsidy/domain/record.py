"""`@record`: an immutable value class to mypy, a plain slotted dataclass at run time."""

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """For the records made once or more per event (entitlements, checks, postings,
    decisions). Not frozen: a frozen dataclass sets each field through object.__setattr__,
    which dominates building these on the hot path. mypy (strict, `make lint`) still refuses
    any assignment to a field; equal records hash equal."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
