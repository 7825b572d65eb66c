"""PostgreSQL → enterprise books: lock and load a batch's books, and keep them between batches."""

# Kept books are checked against each enterprise row's version, within a bounded size.

from collections import Counter as TallyCounter
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from subsidy.contract.codec import (
    decode_event,
    entitlement_from_proto,
)
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.records import EntitlementState
from subsidy.ledger import appeals, approvals

# Columns that restore an EntitlementState (the loader and the export share them).
STATE_COLUMNS = (
    "status, reasons, entitled_fen, capped_fen, granted_fen, clawback_fen, revision,"
    " enterprise_name, district, entitlement"
)


def state_from_row(row: asyncpg.Record, *, trace: bool = True) -> EntitlementState:
    """An entitlement's stored state, as the domain holds it; without eligibility's trace when
    `trace` is false (a book never reads it, and it is most of an entitlement's memory)."""
    message = dpb.Entitlement.FromString(row["entitlement"])
    if not trace:
        message.ClearField("trace")
    return EntitlementState(
        ent=entitlement_from_proto(message),
        status=Status(row["status"]),
        reasons=tuple(Reason(r) for r in row["reasons"]),
        entitled_fen=row["entitled_fen"],
        capped_fen=row["capped_fen"],
        granted_fen=row["granted_fen"],
        clawback_fen=row["clawback_fen"],
        revision=row["revision"],
        enterprise_name=row["enterprise_name"],
        district=row["district"],
    )


@dataclass(slots=True)
class LoadedBook:
    """A book with the enterprise row's bookkeeping: what was stored when it was loaded, and
    the chain head, advanced in memory as the batch books entries."""

    book: EnterpriseBook
    version: int  # applied events, as in enterprises.version
    stored: int  # entitlements already in the table (the next one's seq)
    head_seq: int
    head_hash: str


def book_weight(book: EnterpriseBook) -> int:
    """What a book costs the cache: its entitlements, its events and its parked reviews, the
    collections that grow with the enterprise's history (about 1 KB each, all told)."""
    return len(book.entitlements) + len(book.events) + sum(map(len, book.parked.values()))


class BookCache:
    """Books kept between batches, least recently used first out, within two limits: `size`
    books, and `weight` entitlements, events and parked reviews held by them together (an
    enterprise's book grows with its history, so a count of books alone bounds no memory). A
    cached book is only used when its version equals the locked enterprise row's, i.e. nobody
    else wrote since; an evicted one is restored from the tables when it is needed again."""

    def __init__(self, size: int, weight: int | None = None) -> None:
        self.size = size
        self.weight = weight
        self.held = 0  # the cached books' weight
        self._books: OrderedDict[str, tuple[LoadedBook, int]] = OrderedDict()
        # Since the last drain_tally: lookups by result (hit, stale: another writer moved the
        # enterprise on, miss) and books evicted to keep the limits; the worker's metrics.
        self._tally: TallyCounter[str] = TallyCounter()

    def __len__(self) -> int:
        return len(self._books)

    def get(self, enterprise_id: str, version: int) -> LoadedBook | None:
        found = self._books.get(enterprise_id)
        if found is None or found[0].version != version:
            self._tally["miss" if found is None else "stale"] += 1
            return None
        self._tally["hit"] += 1
        self._books.move_to_end(enterprise_id)
        return found[0]

    def put(self, loaded: LoadedBook) -> None:
        enterprise_id = loaded.book.enterprise_id
        self.drop((enterprise_id,))
        weight = book_weight(loaded.book)
        if self.size == 0 or (self.weight is not None and weight > self.weight):
            return  # a book larger than the whole cache is restored each time
        self._books[enterprise_id] = (loaded, weight)
        self.held += weight
        while len(self._books) > self.size or (self.weight is not None and self.held > self.weight):
            _, (_, evicted) = self._books.popitem(last=False)
            self.held -= evicted
            self._tally["evicted"] += 1

    def drain_tally(self) -> dict[str, int]:
        """Lookups by result and evictions since the last call."""
        tally, self._tally = dict(self._tally), TallyCounter()
        return tally

    def drop(self, enterprise_ids: Iterable[str]) -> None:
        """Forget books a failed transaction may have changed in memory."""
        for enterprise_id in enterprise_ids:
            found = self._books.pop(enterprise_id, None)
            if found is not None:
                self.held -= found[1]


async def lock_and_load(
    conn: asyncpg.Connection, enterprise_ids: list[str], cache: BookCache
) -> dict[str, LoadedBook]:
    """Lock the enterprises' rows in sorted order (creating missing ones) and return their
    books, from the cache when still current, else from the tables."""
    ids = sorted(set(enterprise_ids))
    # Created in the same sorted order: two batches inserting the same new enterprises wait
    # for each other instead of deadlocking.
    await conn.execute(
        "INSERT INTO enterprises (enterprise_id) SELECT id FROM unnest($1::text[]) AS id"
        " ORDER BY id ON CONFLICT DO NOTHING",
        ids,
    )
    # One fixed order for every writer (FOR UPDATE locks rows as the sorted scan returns
    # them): two batches sharing enterprises can wait for each other, never deadlock.
    rows = await conn.fetch(
        "SELECT enterprise_id, version, entitlements, head_seq, head_hash, enterprise_name"
        " FROM enterprises"
        " WHERE enterprise_id = ANY($1::text[]) ORDER BY enterprise_id FOR UPDATE",
        ids,
    )
    books: dict[str, LoadedBook] = {}
    missing: list[asyncpg.Record] = []
    for row in rows:
        cached = cache.get(row["enterprise_id"], row["version"])
        if cached is None:
            missing.append(row)
        else:
            books[row["enterprise_id"]] = cached
    if missing:
        books.update(await _load(conn, missing))
    return books


async def _load(conn: asyncpg.Connection, heads: list[asyncpg.Record]) -> dict[str, LoadedBook]:
    ids = [h["enterprise_id"] for h in heads]
    loaded = {
        h["enterprise_id"]: LoadedBook(
            EnterpriseBook(h["enterprise_id"]),
            h["version"],
            h["entitlements"],
            h["head_seq"],
            h["head_hash"],
        )
        for h in heads
    }
    # The registered name the sources' events gave ("" while none has): payee accounts must
    # bear it (subsidy.ledger.enterprises keeps it as the book does).
    for h in heads:
        loaded[h["enterprise_id"]].book.registered_name = h["enterprise_name"]
    # History order: the domain walks an item's entitlements in the order their events were
    # first taken (creation order, unless a correction created one later). One index range per
    # enterprise (the ORDER BY keeps the subquery from being flattened into a join): with
    # `enterprise_id = ANY($1)` the planner, reading statistics from when the table held few
    # enterprises, expected most rows to match and scanned the whole table for each batch.
    for row in await conn.fetch(
        f"SELECT q.id AS enterprise_id, e.* FROM unnest($1::text[]) WITH ORDINALITY AS q(id, n)"
        f" CROSS JOIN LATERAL (SELECT seq, {STATE_COLUMNS}, (SELECT arrival FROM inbox i"
        "  WHERE i.event_id = t.event_id) AS arrival FROM entitlements t"
        "  WHERE t.enterprise_id = q.id ORDER BY arrival NULLS FIRST, t.seq) e"
        " ORDER BY q.n, e.arrival NULLS FIRST, e.seq",
        ids,
    ):
        loaded[row["enterprise_id"]].book.restore(state_from_row(row, trace=False))
    # Events that created no entitlement still exist for reviews (UnknownEventRef otherwise);
    # rejected events do not, exactly as in the in-memory book.
    for row in await conn.fetch(
        "SELECT enterprise_id, event_id FROM inbox"
        " WHERE enterprise_id = ANY($1::text[]) AND outcome = 'applied'"
        " AND retracted_by IS NULL",
        ids,
    ):
        loaded[row["enterprise_id"]].book.restore_event(row["event_id"])
    for row in await conn.fetch(
        # In the order their reviews were first taken (a correction may re-park one later).
        "SELECT enterprise_id, event, catalog_version FROM parked_reviews p"
        " WHERE enterprise_id = ANY($1::text[]) AND state = 'waiting' ORDER BY (SELECT arrival"
        " FROM inbox i WHERE i.event_id = p.event_id) NULLS FIRST, seq",
        ids,
    ):
        review = Evaluation(decode_event(row["event"]), (), row["catalog_version"])
        loaded[row["enterprise_id"]].book.park(review)
    for row in await conn.fetch(
        "SELECT enterprise_id, item_id, sum(amount_fen)::bigint AS amount FROM other_support o"
        " WHERE enterprise_id = ANY($1::text[]) AND NOT EXISTS (SELECT FROM inbox i"
        "  WHERE i.event_id = o.event_id AND i.retracted_by IS NOT NULL)"
        " GROUP BY enterprise_id, item_id",
        ids,
    ):
        loaded[row["enterprise_id"]].book.other_support[row["item_id"]] = row["amount"]
    await approvals.restore(conn, {k: v.book for k, v in loaded.items()})
    await appeals.restore(conn, {k: v.book for k, v in loaded.items()})
    for book in loaded.values():
        if len(book.book.entitlements) != book.stored:
            raise RuntimeError(
                f"enterprise {book.book.enterprise_id}: {len(book.book.entitlements)}"
                f" entitlement rows but the enterprise row counts {book.stored}"
            )
    return loaded
