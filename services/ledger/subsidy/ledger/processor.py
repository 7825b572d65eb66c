"""One batch of evaluated events, decided and written in one transaction, with inbox semantics."""

# The inbox rules are the in-memory ledger's own (`InMemoryLedger.process`), run over the books and
# inbox rows this batch locked and loaded, so the service and `subsidy simulate` cannot drift apart:
# same id and hash → no-op; same id, other hash → DuplicateEventConflict.

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import EventRetracted
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.errors import (
    ApprovalMismatch,
    LedgerRejection,
    NoReviewer,
    SameReviewer,
    UnknownCorrected,
)
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import Outcome
from subsidy.ledger.batch_writer import BatchWriter, Source
from subsidy.ledger.corrections import load_histories, needs_history, read_inbox
from subsidy.ledger.repository import BookCache, LoadedBook, lock_and_load


@dataclass(frozen=True, slots=True)
class Message:
    """An evaluated event off the input topic, with its content hash and where it came from."""

    evaluation: Evaluation
    payload_hash: str
    source: Source = field(default_factory=Source)
    # Each entitlement's protobuf bytes as received: stored as they are, not re-encoded.
    encoded: dict[str, bytes] = field(default_factory=dict)

    @property
    def enterprise_id(self) -> str:
        return self.evaluation.event.enterprise_id


@dataclass
class BatchReport:
    """What a committed batch did (the worker's metrics read it after the commit)."""

    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    parked: int = 0  # reviews set aside until their event arrives
    released: int = 0  # parked reviews applied now that their event arrived
    released_rejected: int = 0  # parked reviews refused once their event arrived
    # Four eyes: first approvals recorded, second approvals refused (by why).
    four_eyes: Counter[str] = field(default_factory=Counter)
    outcomes: list[tuple[EnterpriseBook, Outcome]] = field(default_factory=list)


# The four-eyes refusals, as subsidy_ledger_four_eyes_total counts them.
FOUR_EYES_REFUSALS: dict[type[LedgerRejection], str] = {
    NoReviewer: "no_reviewer",
    SameReviewer: "same_reviewer",
    ApprovalMismatch: "amount_mismatch",
}


@dataclass
class PreparedBatch:
    """A decided batch whose rows are written but not yet committed."""

    report: BatchReport
    writer: BatchWriter
    books: dict[str, LoadedBook]

    def committed(self, cache: BookCache) -> None:
        """After the commit: the books match their rows again and may be reused."""
        self.writer.commit_books(self.books)
        for loaded in self.books.values():
            cache.put(loaded)


def _replayed(messages: list[Message], ledger: InMemoryLedger) -> set[str]:
    """The enterprises whose history a correction or retraction in the batch may replay: one
    of an event taken (before, or earlier in the batch) that is no repeat. Refused ones, of
    events never taken, cost no history read."""
    seen = {i: {t.content_hash, *t.earlier} for i, t in ledger.inbox.items()}
    found: set[str] = set()
    for m in messages:
        event = m.evaluation.event
        payload = event.payload
        target = payload.event_ref if isinstance(payload, EventRetracted) else event.event_id
        if needs_history(event) and target in seen and m.payload_hash not in seen[target]:
            found.add(m.enterprise_id)
        seen.setdefault(event.event_id, set()).add(m.payload_hash)
    return found


async def apply_batch(
    conn: asyncpg.Connection,
    messages: list[Message],
    cache: BookCache,
    catalog: Catalog | None = None,
) -> PreparedBatch:
    """Lock the batch's enterprises, decide every message in order, write the rows. Run it
    inside a transaction; on any error the caller rolls back and drops the batch's books
    from the cache (they may have been changed in memory). `catalog` judges the histories a
    correction replays (the bundled policy if not given)."""
    books = await lock_and_load(conn, [m.enterprise_id for m in messages], cache)
    # The inbox is global (an event id is unique across enterprises), so it is read by id;
    # a concurrent first sight of the same id elsewhere loses on the primary key and retries.
    # A retraction needs the event it retracts too.
    ids = {m.evaluation.event.event_id for m in messages}
    ids.update(
        p.event_ref for m in messages if isinstance(p := m.evaluation.event.payload, EventRetracted)
    )
    ledger = InMemoryLedger(
        books={k: v.book for k, v in books.items()},
        inbox=await read_inbox(conn, ids),
        keep_all=False,
    )
    corrected = _replayed(messages, ledger)
    if corrected:
        await load_histories(conn, ledger, corrected, catalog or load_catalog())
    writer = BatchWriter(decided_at=datetime.now(UTC))
    report = BatchReport(messages=len(messages))
    for m in messages:
        event = m.evaluation.event
        first_sight = event.event_id not in ledger.inbox
        try:
            outcome = ledger.process(m.evaluation, m.payload_hash)
        except LedgerRejection as err:
            # A correction of an id never taken does not take it (the domain's inbox neither).
            takes_id = first_sight and not isinstance(err, UnknownCorrected)
            writer.rejected_event(
                m.evaluation, m.payload_hash, str(err), m.source, first_sight=takes_id
            )
            if first_sight:
                report.rejected += 1
                if type(err) in FOUR_EYES_REFUSALS:
                    report.four_eyes[FOUR_EYES_REFUSALS[type(err)]] += 1
            else:
                report.conflicts += 1
            continue
        if outcome.duplicate:
            report.duplicates += 1
            continue
        if outcome.parked:
            writer.parked_event(m.evaluation, m.payload_hash, m.source)
            report.parked += 1
            continue
        loaded = books[event.enterprise_id]
        if outcome.redecided is None:
            writer.applied_event(m.evaluation, m.payload_hash, m.source, m.encoded)
        else:
            # The enterprise's book is the one its corrected history gave.
            loaded.book = ledger.books[event.enterprise_id]
            writer.redecided(loaded, m.evaluation, m.payload_hash, m.source, outcome, m.encoded)
        writer.outcome(loaded, outcome)
        report.applied += 1
        report.released += len(outcome.released)
        report.released_rejected += len(outcome.released_rejections)
        if outcome.approvals:
            report.four_eyes["first_approval"] += len(outcome.approvals)
        report.outcomes.append((loaded.book, outcome))
    await writer.flush(conn, books)
    return PreparedBatch(report, writer, books)
