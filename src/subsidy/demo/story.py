"""The part of an enterprise's generated story that its add-ons write to."""

# The portal's filings and the feeds' corrections.

from datetime import date
from typing import Any, Protocol

Event = dict[str, Any]


class Story(Protocol):
    """One enterprise's events as the generator draws them, and how an add-on adds one."""

    n: int
    name: str
    events: list[tuple[date, int, Event]]

    def add(
        self,
        on: date,
        payload_type: str,
        payload: dict[str, Any],
        reviewer: str | None = None,
        event_id: str | None = None,
    ) -> str: ...

    def needs_second(self, rule_id: str, on: date, amount_fen: int) -> bool: ...
