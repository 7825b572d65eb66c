"""The whole ledger in memory: one book per enterprise, the event inbox, each one's history."""

# Each enterprise's history is in the order its events were first taken (for corrections; for
# simulate).

from dataclasses import dataclass, field

from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import EnterpriseEvent, EventRetracted
from subsidy.domain.ledger import corrections
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.errors import (
    CorrectionChangesEnterprise,
    CorrectionChangesSource,
    CorrectionChangesType,
    DuplicateEventConflict,
    HistoryNotKept,
    NotCorrectable,
    NotRetractable,
    UnknownCorrected,
    UnknownRetracted,
)
from subsidy.domain.ledger.records import CorrectionNote, EntitlementState, Outcome

# Records acted on as they came: an account is replaced by registering another, an objection
# is dismissed by the bureau, an appeal is decided (and a decided one appealed again); none is
# corrected nor retracted.
FIXED = frozenset(
    {"payeeAccountRegistered", "objectionFiled", "appealFiled", "appealDecided", "eventRetracted"}
)


@dataclass(slots=True)
class Taken:
    """An event id the ledger took: the content in force, and what a correction must keep."""

    content_hash: str
    revision: int
    enterprise_id: str
    source: str
    payload_type: str
    retracted_by: str | None = None
    # The hashes of the revisions it replaced: one of them again is a redelivery, not news.
    earlier: frozenset[str] = frozenset()

    @classmethod
    def of(cls, event: EnterpriseEvent, content_hash: str) -> "Taken":
        return cls(content_hash, event.revision_number, event.enterprise_id, event.source,
                   event.payload_type)  # fmt: skip


@dataclass
class InMemoryLedger:
    """Books by enterprise, the inbox by event id, and the histories corrections replay.

    `histories` holds, per enterprise, the ids of its events in the order first taken, and
    `taken` each one's evaluation in force. Simulate keeps every enterprise's (`keep_all`);
    the service loads only those a correction in its batch needs, and extends only those."""

    books: dict[str, EnterpriseBook] = field(default_factory=dict)
    inbox: dict[str, Taken] = field(default_factory=dict)
    histories: dict[str, list[str]] = field(default_factory=dict)
    taken: dict[str, Evaluation] = field(default_factory=dict)
    keep_all: bool = True
    # Enterprises whose history the service could not load whole: never decided again.
    incomplete: set[str] = field(default_factory=set)

    def process(self, evaluation: Evaluation, content_hash: str) -> Outcome:
        """Apply an evaluated event once: a repeat of any revision taken changes nothing; a
        higher revision corrects it; other content is rejected. Rejected events are remembered
        too, so that a repeat of one is a no-op, as redelivery is in the service."""
        event = evaluation.event
        seen = self.inbox.get(event.event_id)
        if seen is not None:
            if seen.content_hash == content_hash or content_hash in seen.earlier:
                return Outcome(event.event_id, duplicate=True)
            if event.revision_number <= seen.revision:
                raise DuplicateEventConflict("an earlier event with this id has different content")
            return self._correct(evaluation, content_hash, seen)
        if event.revision is not None:
            raise UnknownCorrected(f"无可更正的原事件 / no event {event.event_id!r} to correct")
        book = self.book(event.enterprise_id)
        if isinstance(event.payload, EventRetracted):
            return self._retract(evaluation, content_hash)
        self.inbox[event.event_id] = Taken.of(event, content_hash)
        self.remember(evaluation)
        return book.apply(evaluation)

    def book(self, enterprise_id: str) -> EnterpriseBook:
        """The enterprise's book, a new one for an enterprise not seen before."""
        book = self.books.get(enterprise_id)
        if book is None:
            book = self.books[enterprise_id] = EnterpriseBook(enterprise_id)
        return book

    def remember(self, evaluation: Evaluation) -> None:
        """Add a newly taken event to its enterprise's history, where one is kept."""
        event = evaluation.event
        history = self.histories.get(event.enterprise_id)
        if history is None:
            if not self.keep_all:
                return
            history = self.histories[event.enterprise_id] = []
        history.append(event.event_id)
        self.taken[event.event_id] = evaluation

    # ---- corrections and retractions -------------------------------------------------------

    def _correct(self, evaluation: Evaluation, content_hash: str, seen: Taken) -> Outcome:
        """A higher revision: guards, then the history decided again with it in place."""
        event = evaluation.event
        self._guard_correctable(event, seen)
        self._guard_history(event.enterprise_id)
        seen.earlier |= {seen.content_hash}
        seen.content_hash, seen.revision = content_hash, event.revision_number
        self.taken[event.event_id] = evaluation
        note = CorrectionNote(event.event_id, event.revision_number,
                              event.correction_reason or "", None, None, 0)  # fmt: skip
        return self._redecide(event.enterprise_id, note, event)

    @staticmethod
    def _guard_correctable(event: EnterpriseEvent, seen: Taken) -> None:
        """A correction keeps the event's enterprise, source and kind, of an event that may
        still be corrected."""
        eid = event.event_id
        if seen.retracted_by is not None:
            raise NotCorrectable(f"event {eid!r} was retracted by {seen.retracted_by!r}")
        if seen.payload_type in FIXED:
            raise NotCorrectable(f"a {seen.payload_type} event is not corrected")
        if event.enterprise_id != seen.enterprise_id:
            raise CorrectionChangesEnterprise(
                f"event {eid!r} is of enterprise {seen.enterprise_id}: a correction keeps it"
                " (retract the event and send a new one for the right enterprise)"
            )
        if event.source != seen.source:
            raise CorrectionChangesSource(f"event {eid!r} came from {seen.source!r}")
        if event.payload_type != seen.payload_type:
            raise CorrectionChangesType(
                f"event {eid!r} is a {seen.payload_type}: a correction keeps the event's type"
            )

    def _retract(self, evaluation: Evaluation, content_hash: str) -> Outcome:
        """An eventRetracted: guards, then the history decided again without the event."""
        event = evaluation.event
        payload = event.payload
        assert isinstance(payload, EventRetracted)
        # Its id is taken even if refused (as any event the book refuses): the same retraction
        # again is a no-op, another one under its id a conflict.
        self.inbox[event.event_id] = Taken.of(event, content_hash)
        target = self._guard_retractable(event, payload)
        self._guard_history(event.enterprise_id)
        target.retracted_by = event.event_id
        note = CorrectionNote(payload.event_ref, 0, payload.reason, event.event_id, None, 0)
        return self._redecide(event.enterprise_id, note, event)

    def _guard_retractable(self, event: EnterpriseEvent, payload: EventRetracted) -> Taken:
        """The retracted event is this enterprise's, from the same source, still in force, and
        may be retracted."""
        ref = payload.event_ref
        target = self.inbox.get(ref)
        if target is None or target.enterprise_id != event.enterprise_id:
            raise UnknownRetracted(f"no event {ref!r} for this enterprise")
        if target.retracted_by is not None:
            raise NotRetractable(f"event {ref!r} was already retracted by {target.retracted_by!r}")
        if target.payload_type == "eventRetracted":
            raise NotRetractable(f"event {ref!r} is itself a retraction: it cannot be retracted")
        if target.payload_type in FIXED:
            raise NotRetractable(f"a {target.payload_type} event is not retracted")
        if target.source != event.source:
            # As a correction keeps its event's source: no feed withdraws what another sent.
            raise NotRetractable(f"event {ref!r} came from {target.source!r}: only it retracts")
        return target

    def _guard_history(self, enterprise_id: str) -> None:
        """Deciding again needs every event the enterprise ever had decided."""
        if enterprise_id in self.incomplete:
            raise HistoryNotKept(
                "this enterprise has events taken before the ledger kept them: its history"
                " cannot be decided again; a bureau corrects it by hand"
            )

    def _redecide(
        self, enterprise_id: str, note: CorrectionNote, cause: EnterpriseEvent
    ) -> Outcome:
        """Decide the enterprise's corrected history again; the book becomes its result."""
        assert enterprise_id in self.histories, (
            f"the history of {enterprise_id} was not loaded before its correction"
        )
        # Ids missing from the inbox are not retracted: the service loads a history without
        # the events retracted before, and the inbox rows of its batch's events only.
        history = [
            self.taken[i] for i in self.histories[enterprise_id]
            if (t := self.inbox.get(i)) is None or t.retracted_by is None
        ]  # fmt: skip
        old = self.book(enterprise_id)
        book, out = corrections.redecide(old, history, note, cause.event_id)
        # The registered name follows the events as they were taken, not the history decided
        # again (as the service's enterprises row does): the correction or retraction itself
        # names the enterprise if a source sent it.
        book.registered_name = old.registered_name
        book.register(cause)
        self.books[enterprise_id] = book
        return out

    # ---- reading ---------------------------------------------------------------------------

    def parked_ids(self) -> set[str]:
        """The ids of the reviews still waiting for their event."""
        return {r.event.event_id for b in self.books.values() for r in b.parked_reviews()}

    def states(self) -> list[EntitlementState]:
        """Every entitlement's current state, ordered by entitlement id."""
        found = [s for b in self.books.values() for s in b.entitlements.values()]
        return sorted(found, key=lambda s: s.ent.entitlement_id)
