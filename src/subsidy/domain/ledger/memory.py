"""The whole ledger in memory: one book per enterprise plus the event inbox (for simulate)."""

from dataclasses import dataclass, field

from subsidy.domain.evaluator import Evaluation
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.errors import DuplicateEventConflict
from subsidy.domain.ledger.records import EntitlementState, Outcome


@dataclass
class InMemoryLedger:
    """Books by enterprise and an inbox of processed event ids with their content hashes."""

    books: dict[str, EnterpriseBook] = field(default_factory=dict)
    inbox: dict[str, str] = field(default_factory=dict)

    def process(self, evaluation: Evaluation, content_hash: str) -> Outcome:
        """Apply an evaluated event once: a repeat with the same content changes nothing, with
        different content it is rejected. Rejected events are remembered too, so that a repeat
        of one is a no-op, as redelivery is in the service."""
        event = evaluation.event
        seen = self.inbox.get(event.event_id)
        if seen is not None:
            if seen != content_hash:
                raise DuplicateEventConflict("an earlier event with this id has different content")
            return Outcome(event.event_id, duplicate=True)
        book = self.books.get(event.enterprise_id)
        if book is None:
            book = self.books[event.enterprise_id] = EnterpriseBook(event.enterprise_id)
        self.inbox[event.event_id] = content_hash
        return book.apply(evaluation)

    def parked_ids(self) -> set[str]:
        """The ids of the reviews still waiting for their event."""
        return {r.event.event_id for b in self.books.values() for r in b.parked_reviews()}

    def states(self) -> list[EntitlementState]:
        """Every entitlement's current state, ordered by entitlement id."""
        found = [s for b in self.books.values() for s in b.entitlements.values()]
        return sorted(found, key=lambda s: s.ent.entitlement_id)
