"""`subsidy simulate`: the whole policy and ledger in one process, no broker, no database."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.export import distinct_rejections, entitlement_view, parked_view
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger


@dataclass
class SimulationResult:
    """The ledger after every event, and the events rejected on the way."""

    ledger: InMemoryLedger
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_contract(self) -> dict[str, Any]:
        """`{"entitlements": […], "rejectedEvents": […], "parkedEvents": […]}` as the contract
        prints it."""
        return {
            "entitlements": [entitlement_view(s) for s in self.ledger.states()],
            "rejectedEvents": distinct_rejections(self.rejected),
            "parkedEvents": parked_view(
                (r.event.event_id, r.event.payload.event_ref)  # type: ignore[union-attr]
                for book in self.ledger.books.values()
                for r in book.parked_reviews()
            ),
        }


def simulate(lines: Iterable[str | bytes], catalog: Catalog) -> SimulationResult:
    """Take events in order (one JSON object per line; blank lines skipped)."""
    result = SimulationResult(InMemoryLedger())
    for line in lines:
        if not line.strip():
            continue
        try:
            event = parse_event_json(line)
            outcome = result.ledger.process(
                evaluate(event, catalog, explain=False), event.content_hash()
            )
            result.rejected.extend(
                {"eventId": review_id, "error": error}
                for review_id, error in outcome.released_rejections
            )
        except InvalidEvent as err:
            result.rejected.append({"eventId": err.event_id, "error": str(err)})
        except LedgerRejection as err:
            result.rejected.append({"eventId": _event_id(line), "error": str(err)})
    return result


def _event_id(line: str | bytes) -> str | None:
    value = json.loads(line).get("eventId")
    return value if isinstance(value, str) else None
