"""Corrections in PostgreSQL: the inbox as `Taken`, histories to replay, rows kept in step."""

# The inbox is read as the domain's `Taken`; the histories are those a batch's corrections replay;
# the rows are those that keep a re-decided enterprise's tables in step.

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from subsidy.contract.codec import event_to_proto
from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import (
    PAYLOAD_TYPES,
    EnterpriseEvent,
    EventRetracted,
    OtherSupportReceived,
    parse_event_json,
)
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.memory import InMemoryLedger, Taken
from subsidy.domain.submitter import Submitter


def needs_history(event: EnterpriseEvent) -> bool:
    """Can this event make the ledger decide its enterprise's history again?"""
    return event.revision is not None or isinstance(event.payload, EventRetracted)


def _payload_type(doc: dict[str, Any]) -> str:
    return next((k for k in PAYLOAD_TYPES if k in doc), "")


async def read_inbox(conn: asyncpg.Connection, event_ids: Iterable[str]) -> dict[str, Taken]:
    """The inbox rows of these ids, as the domain's inbox holds them."""
    taken: dict[str, Taken] = {}
    for r in await conn.fetch(
        "SELECT event_id, payload_hash, revision, enterprise_id, event, retracted_by,"
        " CASE WHEN revision > 1 THEN ARRAY(SELECT r.payload_hash FROM event_revisions r"
        "  WHERE r.event_id = i.event_id) END AS earlier"
        " FROM inbox i WHERE event_id = ANY($1::text[])",
        list(event_ids),
    ):
        # Events taken before the inbox kept them (0004) have no source or type to keep.
        doc = json.loads(r["event"]) if r["event"] else {}
        taken[r["event_id"]] = Taken(
            r["payload_hash"], r["revision"], r["enterprise_id"], doc.get("source", ""),
            _payload_type(doc), r["retracted_by"], frozenset(r["earlier"] or ()),
        )  # fmt: skip
    return taken


async def load_histories(
    conn: asyncpg.Connection, ledger: InMemoryLedger, enterprise_ids: set[str], catalog: Catalog
) -> None:
    """Each enterprise's events in force, in the order first taken, evaluated again by the
    ledger's policy: what a correction replays. Retractions hold no place of their own."""
    # A review the clock expired stays refused: the history goes on without it.
    rows = await conn.fetch(
        "SELECT enterprise_id, event_id, event, submitted_by::text AS submitted_by FROM inbox i"
        " WHERE enterprise_id = ANY($1::text[]) AND retracted_by IS NULL AND NOT EXISTS"
        "  (SELECT FROM parked_reviews p WHERE p.event_id = i.event_id AND p.state = 'expired')"
        " ORDER BY arrival NULLS FIRST, received_at, source_partition, source_offset, event_id",
        sorted(enterprise_ids),
    )
    for enterprise_id in enterprise_ids:
        ledger.histories.setdefault(enterprise_id, [])
    for r in rows:
        if r["event"] is None:  # taken before the inbox kept events (0004): not replayable
            ledger.incomplete.add(r["enterprise_id"])
            continue
        event = parse_event_json(r["event"])
        if isinstance(event.payload, EventRetracted):
            continue
        if r["submitted_by"]:
            event = event.model_copy(
                update={"submitted_by": Submitter.model_validate_json(r["submitted_by"])}
            )
        ledger.histories[r["enterprise_id"]].append(event.event_id)
        ledger.taken[event.event_id] = evaluate(event, catalog, explain=False)


_KEEP = (
    "INSERT INTO event_revisions (event_id, revision, payload_hash, event, reason,"
    " submitted_by, taken_at) SELECT event_id, revision, payload_hash, event,"
    " coalesce(event::jsonb ->> 'correctionReason', ''), submitted_by,"
    " coalesce($2::timestamptz, received_at) FROM inbox WHERE event_id = $1"
    " ON CONFLICT DO NOTHING"
)


class CorrectionRows:
    """What re-deciding an enterprise changes beyond decisions and entries: the inbox rows
    (content in force, fates, the retracted mark), the revisions kept, and the parked
    reviews, waiting first approvals and other support that the new book holds."""

    def __init__(self) -> None:
        self.in_force: list[tuple[Any, ...]] = []
        self.retracted: list[tuple[str, str]] = []
        self.fates: list[tuple[str, str]] = []
        self.books: dict[str, tuple[EnterpriseBook, str]] = {}
        self.support: list[tuple[str, str, str, int]] = []

    def add(self, row: dict[str, Any], event: EnterpriseEvent, book: EnterpriseBook,
            fates: dict[str, str], retracted: str | None) -> None:  # fmt: skip
        """One correction or retraction (`row`: its inbox row as the batch writer makes it)."""
        if retracted is None:
            self.in_force.append((row["event_id"], row["payload_hash"], row["event"],
                                  event.revision_number, row["submitted_by"]))  # fmt: skip
        else:
            self.retracted.append((retracted, row["event_id"]))
        payload = event.payload
        if isinstance(payload, OtherSupportReceived):
            self.support.append((row["event_id"], payload.item_id, payload.program,
                                 payload.amount_fen))  # fmt: skip
        self.fates.extend(fates.items())
        self.books[book.enterprise_id] = (book, row["event_id"])

    async def flush_inbox(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the inbox rows of the batch (a retraction's own row among them)."""
        if not self.books:
            return
        # The revision replaced is kept before its row takes the new one (the first time, the
        # original, taken when the row was), then the new one: every revision ever in force.
        for row in self.in_force:
            await conn.execute(_KEEP, row[0], None)
            await conn.execute(
                "UPDATE inbox SET payload_hash = $2, event = $3, revision = $4,"
                " submitted_by = $5::jsonb WHERE event_id = $1",
                *row,
            )
            await conn.execute(_KEEP, row[0], at)
        await conn.executemany(
            "UPDATE inbox SET retracted_by = $2 WHERE event_id = $1", self.retracted
        )
        await conn.executemany(
            "UPDATE inbox SET outcome = $2 WHERE event_id = $1 AND outcome <> $2", self.fates
        )

    async def flush_books(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the batch's entitlements, parked reviews and approvals: the re-decided
        enterprises' waits are their books' (the batch's later events included), and a
        corrected support row says what its revision says (written earlier in the batch too)."""
        await conn.executemany(
            "UPDATE other_support SET item_id = $2, program = $3, amount_fen = $4"
            " WHERE event_id = $1",
            self.support,
        )
        for book, cause in self.books.values():
            await _parked_in_step(conn, book, at)
            await _approvals_in_step(conn, book, cause, at)


async def _parked_in_step(conn: asyncpg.Connection, book: EnterpriseBook, at: datetime) -> None:
    """The enterprise's waiting reviews are the book's parked ones, no more, no fewer, each
    as its revision in force has it."""
    waiting = book.parked_reviews()
    await conn.execute(
        "UPDATE parked_reviews SET state = 'released', settled_at = $3"
        " WHERE enterprise_id = $1 AND state = 'waiting' AND NOT event_id = ANY($2::text[])",
        book.enterprise_id, [r.event.event_id for r in waiting], at,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO parked_reviews (event_id, enterprise_id, event_ref, event, catalog_version,"
        " parked_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO UPDATE"
        " SET state = 'waiting', settled_at = NULL, event_ref = $3, event = $4,"
        " catalog_version = $5 WHERE parked_reviews.state <> 'waiting'"
        " OR parked_reviews.event <> $4",
        [(r.event.event_id, book.enterprise_id, r.event.payload.event_ref,  # type: ignore[union-attr]
          event_to_proto(r.event, submitter=True).SerializeToString(), r.catalog_version, at)
         for r in waiting],
    )  # fmt: skip


async def _approvals_in_step(
    conn: asyncpg.Connection, book: EnterpriseBook, cause: str, at: datetime
) -> None:
    """The enterprise's waiting first approvals are the book's, each as its revision in force
    has it (review, reviewer, amount): any other waiting row is settled by `cause`, and the
    book's that do not wait yet are added. Settled rows stay, for audits."""
    waits = [(a.entitlement_id, a.event_id, a.principal, a.amount_fen)
             for a in book.awaiting.values()]  # fmt: skip
    await conn.execute(
        "UPDATE review_approvals SET state = 'settled', settled_by = $2, settled_at = $3"
        " WHERE enterprise_id = $1 AND state = 'waiting' AND (entitlement_id, event_id,"
        " principal, amount_fen) NOT IN (SELECT * FROM unnest($4::text[], $5::text[],"
        " $6::text[], $7::bigint[]))",
        book.enterprise_id, cause, at, *(list(c) for c in zip(*waits, strict=True))
        if waits else ([], [], [], []),
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO review_approvals (entitlement_id, enterprise_id, event_id, principal,"
        " amount_fen, approved_at) SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT FROM"
        " review_approvals WHERE entitlement_id = $1 AND state = 'waiting')",
        [(eid, book.enterprise_id, ev, who, fen, at) for eid, ev, who, fen in waits],
    )
