"""Writing one batch's outcomes in the caller's transaction, in a handful of round trips."""

# Everything of one batch is written together: entitlement rows, decisions, journal entries with
# their hash chain, cap counters, other-programme support, payee accounts, objections, appeals, the
# inbox, rejected events and the outbox. Rows are gathered in memory while the batch is decided and
# written at the end: appended with COPY, updated set-based (subsidy.ledger.batch_rows).

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from subsidy.contract.codec import (
    decision_to_proto,
    entitlement_to_proto,
    event_to_proto,
)
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import EventRetracted, OtherSupportReceived, ReviewDecided
from subsidy.domain.ledger.records import GRANT_ACCOUNT, Decision, Outcome
from subsidy.ledger.appeals import AppealRows
from subsidy.ledger.approvals import ApprovalRows
from subsidy.ledger.batch_rows import (
    insert_rejected,
    settle_parked,
    stored_entitlements,
    update_facts,
    update_states,
)
from subsidy.ledger.chain import ENTRY_FIELDS, EntryFields, entry_hash
from subsidy.ledger.corrections import CorrectionRows
from subsidy.ledger.enterprises import registered, write_heads
from subsidy.ledger.repository import LoadedBook
from subsidy.ledger.tables import Counters, Row, Table, bump, move

APPLIED = "applied"
REJECTED = "rejected"
PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from (kept on the inbox and rejection rows, for audits), and who
    submitted its event: the provenance's JSON (0005_provenance), None if it carries none."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    submitted_by: str | None = None


def _checks_json(d: Decision) -> str:
    return json.dumps(
        [{"check": c.check, "outcome": c.outcome, "numbers": c.numbers} for c in d.checks],
        ensure_ascii=False,
        sort_keys=True,
    )


def _with_trace(message: dpb.Entitlement, stored: bytes | None) -> bytes:
    """An entitlement rebuilt from the book (whose state holds no trace) as bytes: with the
    trace its stored row holds when that row says the same otherwise, so a correction costs
    no unchanged entitlement its eligibility trace."""
    if stored is not None and not message.trace:
        before = dpb.Entitlement.FromString(stored)
        trace = list(before.trace)
        before.ClearField("trace")
        # Only a trace that explains these facts: an entitlement evaluated again under another
        # policy (an overlay that changed a rate) would otherwise be explained by the old
        # evaluation. Without one, the explanation says no trace is stored.
        if before == message:
            message.trace.extend(trace)
    return message.SerializeToString()


_EVENT_COLUMNS = ("event_id", "enterprise_id", "payload_hash")
_SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset")


class BatchWriter:
    """Rows of one batch, gathered while its events are decided, written by `flush`."""

    def __init__(self, decided_at: datetime) -> None:
        self.decided_at = decided_at
        self.inbox = Table(
            "inbox",
            *_EVENT_COLUMNS,
            "outcome",
            "received_at",
            *_SOURCE_COLUMNS,
            "event",
            "submitted_by",
        )
        self.rejected: list[tuple[Any, ...]] = []
        self.other_support = Table(
            "other_support", "event_id", "enterprise_id", "item_id", "program", "amount_fen",
            "received_at",
        )  # fmt: skip
        self.entitlements = Table(
            "entitlements", "entitlement_id", "enterprise_id", "seq", "event_id", "rule_id",
            "measure", "item_id", "year", "occurred_on", "stage", "enterprise_name", "district",
            "funding_channels", "clause", "catalog_version", "status", "reasons",
            "entitled_fen", "capped_fen", "granted_fen", "clawback_fen", "revision",
            "annual_cap_fen", "item_cap_fen", "entitlement", "updated_at",
        )  # fmt: skip
        self.decisions = Table(
            "decisions", "decision_id", "entitlement_id", "revision", "enterprise_id", "rule_id",
            "measure", "item_id", "year", "district", "status", "reasons", "entitled_fen",
            "granted_fen", "cash_delta_fen", "clawback_fen", "caused_by_event_id", "checks",
            "decided_at", "message",
        )  # fmt: skip
        self.entries = Table("entries", *ENTRY_FIELDS, "prev_hash", "hash")
        self.outbox = Table("outbox", "decision_id", "enterprise_id")
        self.parked = Table(
            "parked_reviews", "event_id", "enterprise_id", "event_ref", "event",
            "catalog_version", "parked_at",
        )  # fmt: skip
        # What the payouts read (0008_payees_objections); seq is the table's own identity.
        self.payee_accounts = Table(
            "payee_accounts", "event_id", "enterprise_id", "bank_name", "account_number",
            "account_name", "registered_on", "recorded_at",
        )  # fmt: skip
        self.objections = Table(
            "objections", "event_id", "enterprise_id", "entitlement_id", "reason", "filed_on",
            "recorded_at",
        )  # fmt: skip
        self.approvals = ApprovalRows()
        self.appeals = AppealRows()  # 0011_appeals
        self.corrections = CorrectionRows()
        # Entitlements first decided in this batch, in the order created (their seq).
        self.created: dict[str, list[str]] = defaultdict(list)
        self.redone: set[str] = set()  # enterprises whose history was decided again
        self.released: list[str] = []
        self.released_rejections: list[tuple[str, str]] = []
        self.annual: Counters = {}
        self.items: Counters = {}
        self.touched: dict[str, set[str]] = defaultdict(set)
        self.applied: dict[str, int] = defaultdict(int)
        self.names: dict[str, tuple[str, str]] = {}
        self.encoded: dict[str, bytes] = {}

    def _count(self, evaluation: Evaluation) -> None:
        """One more event taken for its enterprise, and the name it registers (if it does)."""
        event = evaluation.event
        self.applied[event.enterprise_id] += 1
        if (name := registered(event)) is not None:
            self.names[event.enterprise_id] = name

    def _event(self, evaluation: Evaluation, payload_hash: str, src: Source) -> Row:
        event = evaluation.event
        return {
            "event_id": event.event_id, "enterprise_id": event.enterprise_id,
            "payload_hash": payload_hash, "source_topic": src.topic,
            "source_partition": src.partition, "source_offset": src.offset,
            # The event as decided, spelled as its content hash is computed (0004_inbox_events).
            "event": event.model_dump_json(by_alias=True, exclude_none=True),
            "submitted_by": src.submitted_by,
        }  # fmt: skip

    def applied_event(
        self, evaluation: Evaluation, payload_hash: str, src: Source, encoded: dict[str, bytes]
    ) -> None:
        """An event applied: its inbox row (and its other-programme support, if that is it).
        `encoded` holds its entitlements' protobuf bytes as received, stored as they are."""
        event = evaluation.event
        self.inbox.add(**self._event(evaluation, payload_hash, src), outcome=APPLIED,
                       received_at=self.decided_at)  # fmt: skip
        self.encoded.update(encoded)
        self._count(evaluation)
        payload = event.payload
        if isinstance(payload, OtherSupportReceived):
            self.other_support.add(
                event_id=event.event_id, enterprise_id=event.enterprise_id,
                item_id=payload.item_id, program=payload.program, amount_fen=payload.amount_fen,
                received_at=self.decided_at,
            )  # fmt: skip

    def redecided(
        self, loaded: LoadedBook, evaluation: Evaluation, payload_hash: str, src: Source,
        outcome: Outcome, encoded: dict[str, bytes],
    ) -> None:  # fmt: skip
        """A correction (its inbox row takes the new revision) or a retraction (a row of its
        own): the enterprise's history was decided again."""
        event = evaluation.event
        assert outcome.redecided is not None
        row = self._event(evaluation, payload_hash, src)
        retracted = outcome.redecided.retracted
        if isinstance(event.payload, EventRetracted):
            self.inbox.add(**row, outcome=APPLIED, received_at=self.decided_at)
        self.corrections.add(row, event, loaded.book, outcome.redecided.fates, retracted)
        self.encoded.update(encoded)
        self._count(evaluation)
        self.redone.add(event.enterprise_id)

    def rejected_event(
        self, evaluation: Evaluation, payload_hash: str, error: str, src: Source, *,
        first_sight: bool,
    ) -> None:  # fmt: skip
        """A refused event; on first sight it also enters the inbox (a repeat is a no-op)."""
        row = self._event(evaluation, payload_hash, src)
        if first_sight:
            self.inbox.add(**row, outcome=REJECTED, received_at=self.decided_at)
        self.rejected.append((*(row[c] for c in _EVENT_COLUMNS), error, self.decided_at,
                              *(row[c] for c in _SOURCE_COLUMNS)))  # fmt: skip

    def parked_event(self, evaluation: Evaluation, payload_hash: str, src: Source) -> None:
        """A review set aside until its event arrives: its id is taken, the book changed."""
        event = evaluation.event
        assert isinstance(event.payload, ReviewDecided)
        self.inbox.add(**self._event(evaluation, payload_hash, src), outcome=PARKED,
                       received_at=self.decided_at)  # fmt: skip
        self.parked.add(
            event_id=event.event_id, enterprise_id=event.enterprise_id,
            event_ref=event.payload.event_ref,
            event=event_to_proto(event, submitter=True).SerializeToString(),
            catalog_version=evaluation.catalog_version, parked_at=self.decided_at,
        )  # fmt: skip
        self._count(evaluation)

    def outcome(self, loaded: LoadedBook, outcome: Outcome) -> None:
        """Decisions, entries (chained) and counter deltas of one applied event (and of the
        parked reviews it released)."""
        book = loaded.book
        self.approvals.add(book.enterprise_id, outcome)
        self.appeals.add(outcome, book)
        self.released.extend(outcome.released)
        self.released_rejections.extend(outcome.released_rejections)
        for a in outcome.payee_accounts:
            self.payee_accounts.add(
                event_id=a.event_id, enterprise_id=a.enterprise_id, bank_name=a.bank_name,
                account_number=a.account_number, account_name=a.account_name,
                registered_on=a.registered_on, recorded_at=self.decided_at,
            )  # fmt: skip
        for o in outcome.objections:
            self.objections.add(
                event_id=o.event_id, enterprise_id=o.enterprise_id,
                entitlement_id=o.entitlement_id, reason=o.reason, filed_on=o.filed_on,
                recorded_at=self.decided_at,
            )  # fmt: skip
        for d in outcome.decisions:
            e = d.state_ent
            self.touched[e.enterprise_id].add(e.entitlement_id)
            if d.revision == 1:
                self.created[e.enterprise_id].append(e.entitlement_id)
            self.decisions.add(
                decision_id=d.decision_id, entitlement_id=e.entitlement_id, revision=d.revision,
                enterprise_id=e.enterprise_id, rule_id=e.rule_id, measure=e.measure,
                item_id=e.item_id, year=e.year, district=d.district, status=d.status.value,
                reasons=[r.value for r in d.reasons], entitled_fen=d.entitled_fen,
                granted_fen=d.granted_fen, cash_delta_fen=d.cash_delta_fen,
                clawback_fen=d.clawback_fen, caused_by_event_id=d.caused_by_event_id,
                checks=_checks_json(d), decided_at=self.decided_at,
                message=decision_to_proto(d, self.decided_at).SerializeToString(),
            )  # fmt: skip
            self.outbox.add(decision_id=d.decision_id, enterprise_id=e.enterprise_id)
        for p in outcome.postings:
            s = book.entitlements[p.entitlement_id]
            e = p.facts or s.ent
            fields = EntryFields(
                enterprise_id=book.enterprise_id, seq=loaded.head_seq + 1,
                entitlement_id=e.entitlement_id, kind=p.kind.value, amount_fen=p.amount_fen,
                rule_id=e.rule_id, measure=e.measure, item_id=e.item_id, year=e.year,
                district=p.district or s.district, clause=e.clause,
                funding_channels=e.funding_channels,
                catalog_version=e.catalog_version, caused_by_event_id=p.event_id,
                booked_at=self.decided_at,
            )  # fmt: skip
            digest = entry_hash(loaded.head_hash, fields)
            self.entries.add(**fields.columns(), prev_hash=loaded.head_hash, hash=digest)
            loaded.head_seq, loaded.head_hash = fields.seq, digest
            if p.kind in GRANT_ACCOUNT:
                caps = (e.annual_cap_fen, e.item_cap_fen)
                if outcome.redecided is not None and p.amount_fen > 0:
                    # The counters' CHECK bound: a corrected history's is its widest cap.
                    caps = book.widest_caps(e.rule_id, e.year, e.item_id)
                move(self.annual, (book.enterprise_id, e.rule_id, e.year), p.amount_fen,
                     caps[0])  # fmt: skip
                move(self.items, (book.enterprise_id, e.rule_id, e.item_id), p.amount_fen,
                     caps[1])  # fmt: skip

    async def flush(self, conn: asyncpg.Connection, books: dict[str, LoadedBook]) -> None:
        """Write everything gathered, parents before children (foreign keys)."""
        await self.inbox.copy(conn)
        await self.corrections.flush_inbox(conn, self.decided_at)
        await self.parked.copy(conn)
        await settle_parked(conn, self.released, dict(self.released_rejections), self.decided_at)
        await self.other_support.copy(conn)
        updates = self._entitlement_rows(books)
        await self.entitlements.copy(conn)
        await self.payee_accounts.copy(conn)
        await self.objections.copy(conn)  # after the entitlements it refers to
        await self.appeals.flush(conn, self.decided_at)  # so are appeals
        await update_states(conn, updates, self.decided_at)
        await update_facts(conn, await self._facts(conn, books))
        await self.approvals.flush(conn, self.decided_at)
        await self.corrections.flush_books(conn, self.decided_at)
        await self.decisions.copy(conn)
        await self.entries.copy(conn)
        await self.outbox.copy(conn)
        await bump(conn, "annual_usage", "year", "integer", self.annual)
        await bump(conn, "item_usage", "item_id", "text", self.items)
        await insert_rejected(conn, self.rejected)
        heads = []
        for enterprise_id, count in self.applied.items():
            loaded = books[enterprise_id]
            heads.append((enterprise_id, loaded.version + count, len(loaded.book.entitlements),
                          loaded.head_seq, loaded.head_hash,
                          *self.names.get(enterprise_id, (None, None)),
                          self.decided_at))  # fmt: skip
        if heads:
            await write_heads(conn, heads)
        if self.outbox.rows or self.appeals.notices:
            # Wakes the relay at commit (NOTIFY is transactional); it also polls.
            await conn.execute("NOTIFY ledger_outbox")

    def _entitlement_rows(self, books: dict[str, LoadedBook]) -> list[tuple[Any, ...]]:
        """New entitlements as rows (in creation order: their seq); the UPDATEs of the others."""
        updates: list[tuple[Any, ...]] = []
        for enterprise_id, ids in self.touched.items():
            loaded = books[enterprise_id]
            entitlements = loaded.book.entitlements
            fresh = dict.fromkeys(self.created.get(enterprise_id, ()))
            for seq, eid in enumerate(fresh, start=loaded.stored):
                s = entitlements[eid]
                e = s.ent
                self.entitlements.add(
                    entitlement_id=eid, enterprise_id=enterprise_id, seq=seq,
                    event_id=e.event_id, rule_id=e.rule_id, measure=e.measure,
                    item_id=e.item_id, year=e.year, occurred_on=e.occurred_on, stage=e.stage,
                    enterprise_name=s.enterprise_name, district=s.district,
                    funding_channels=list(e.funding_channels), clause=e.clause,
                    catalog_version=e.catalog_version, status=s.status.value,
                    reasons=[r.value for r in s.reasons], entitled_fen=s.entitled_fen,
                    capped_fen=s.capped_fen, granted_fen=s.granted_fen,
                    clawback_fen=s.clawback_fen, revision=s.revision,
                    annual_cap_fen=e.annual_cap_fen, item_cap_fen=e.item_cap_fen,
                    entitlement=self.encoded.get(eid)
                    or entitlement_to_proto(e).SerializeToString(),
                    updated_at=self.decided_at,
                )  # fmt: skip
            for eid in ids - fresh.keys():
                s = entitlements[eid]
                updates.append((eid, s.status.value, [r.value for r in s.reasons],
                                s.entitled_fen, s.capped_fen, s.granted_fen, s.clawback_fen,
                                s.revision))  # fmt: skip
            loaded.stored = len(entitlements)
        return updates

    def _refacts(
        self, books: dict[str, LoadedBook]
    ) -> tuple[list[tuple[Any, ...]], dict[str, dpb.Entitlement]]:
        """A corrected event's entitlements may hold other facts now (a year, an item, an
        amount asked): their rows take them, as the decisions already did; with the bytes
        eligibility sent for them (the rows' last column), else None and rebuilt from the
        book (`_facts` chooses the trace)."""
        rows = []
        rebuilt: dict[str, dpb.Entitlement] = {}
        for enterprise_id in self.redone:
            entitlements = books[enterprise_id].book.entitlements
            for eid in self.touched[enterprise_id] - set(self.created.get(enterprise_id, ())):
                s = entitlements[eid]
                e = s.ent
                blob = self.encoded.get(eid)
                if blob is None:
                    rebuilt[eid] = entitlement_to_proto(e)
                rows.append((eid, e.measure, e.item_id, e.year, e.occurred_on, e.stage,
                             s.enterprise_name, s.district, list(e.funding_channels), e.clause,
                             e.catalog_version, e.annual_cap_fen, e.item_cap_fen,
                             blob))  # fmt: skip
        return rows, rebuilt

    async def _facts(
        self, conn: asyncpg.Connection, books: dict[str, LoadedBook]
    ) -> list[tuple[Any, ...]]:
        """`_refacts`' rows, each with the bytes it is written with: a rebuilt one's after
        reading its stored row (one read for all of them, none without any)."""
        rows, rebuilt = self._refacts(books)
        stored = await stored_entitlements(conn, list(rebuilt))
        return [
            (*r[:-1], r[-1] if r[-1] is not None else _with_trace(rebuilt[r[0]], stored.get(r[0])))
            for r in rows
        ]

    def commit_books(self, books: dict[str, LoadedBook]) -> None:
        """After the commit: the books' versions follow the rows they now match."""
        for enterprise_id, count in self.applied.items():
            books[enterprise_id].version += count
