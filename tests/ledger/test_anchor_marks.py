"""The relay's anchoring keeps each chain's position in anchor_marks, not in memory."""

# Between sweeps it reads only the chains it was told moved, a sweep reads a page at a time, a relay
# upgraded from the in-memory positions takes them from its file once (what a hostile change to the
# marks does: test_anchor_mark_trust). Against PostgreSQL, decided by the ledger's own batch code as
# the worker's login.

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.infra.signing_keys import Signer, Verifier
from subsidy.ledger import anchoring, metrics
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.anchors import (
    load_signed_anchors,
    sign_anchor,
)
from subsidy.ledger.chain import VerifyResult, verify_chains
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.ledger.database import (
    UNANNOUNCED,
    LedgerDb,
    anchored_heads,
    as_role,
    fetch,
    signing_keys,
)
from tests.ledger.events import CATALOG, EventMix

pytestmark = pytest.mark.postgres

HEADS = "SELECT enterprise_id, head_seq FROM enterprises WHERE head_seq > 0"


async def _decide(url: str, events: list[dict[str, Any]], batch: int = 200) -> None:
    """The events applied by the worker's batch code, `batch` to a transaction."""
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, len(events), batch):
            messages = []
            for raw in events[start : start + batch]:
                parsed = parse_event(raw)
                messages.append(Message(evaluate(parsed, CATALOG), parsed.content_hash()))
            async with conn.transaction():
                await apply_batch(conn, messages, BookCache(0))
    finally:
        await conn.close()


async def _heads(url: str) -> dict[str, int]:
    return {r["enterprise_id"]: r["head_seq"] for r in await fetch(url, HEADS)}


async def _marks(url: str) -> dict[str, int]:
    return {r["chain"]: r["seq"] for r in await fetch(url, "SELECT chain, seq FROM anchor_marks")}


class _Reads:
    """The anchorer's connection, counting the rows each of its statements returned (the real
    connection does the work)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.rows: list[tuple[str, int]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows = await self._conn.fetch(query, *args)
        self.rows.append((query, len(rows)))
        return list(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def _anchor(url: str, anchorer: Anchorer) -> tuple[int, _Reads]:
    """One anchoring on a connection of its own: anchors written, and what it read."""
    conn = await asyncpg.connect(url)
    try:
        reads = _Reads(conn)
        return await anchorer.anchor(cast(asyncpg.Connection, reads)), reads
    finally:
        await conn.close()


def _anchorer(path: Path, **limits: Any) -> Anchorer:
    return Anchorer(Signer.from_file(signing_keys()[0]), AnchorLog(path, None, ""), **limits)


def _vouched(path: Path) -> dict[str, dict[int, str]]:
    return load_signed_anchors(path, Verifier.from_file(signing_keys()[1]))


async def _verify(db: LedgerDb, path: Path | None) -> VerifyResult:
    conn = await asyncpg.connect(db.url)
    try:
        return await verify_chains(conn, None if path is None else _vouched(path))
    finally:
        await conn.close()


def _sample(name: str) -> float:
    return metrics.RELAY_REGISTRY.get_sample_value(name) or 0.0


async def _owner(db: LedgerDb, sql: str, *args: Any) -> None:
    """SQL as the tables' owner (the threat model's hostile owner)."""
    conn = await asyncpg.connect(db.owner_url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def _two_halves(db: LedgerDb, enterprises: int, seed: int) -> list[dict[str, Any]]:
    """A mix decided up to its middle; the rest returned, to move some heads later."""
    events = EventMix(seed=seed, enterprises=enterprises, events_per_enterprise=6).events()
    await _decide(db.url, events[: len(events) // 2])
    return events[len(events) // 2 :]


async def test_anchoring_reads_only_the_chains_that_moved_and_sweeps_a_page_at_a_time(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    rest = await _two_halves(ledger_db, enterprises=150, seed=61)
    heads = await _heads(ledger_db.url)
    assert len(heads) > 100
    log = tmp_path / "anchors.jsonl"
    anchorer = _anchorer(log, page_size=40)
    # The first anchoring sweeps: every chain, 40 at a time, none held after.
    written, reads = await _anchor(ledger_db.url, anchorer)
    assert written == len(heads)
    pages = [n for q, n in reads.rows if "anchor_marks" in q]
    assert len(pages) == len(heads) // 40 + 1
    assert max(pages) == 40
    assert await _marks(ledger_db.url) == heads == anchored_heads(log)
    assert all(len(v) < 40 for v in vars(anchorer).values() if hasattr(v, "__len__"))

    # No head moved, none reported: not one chain is read.
    written, reads = await _anchor(ledger_db.url, anchorer)
    assert (written, sum(n for _, n in reads.rows)) == (0, 0)
    # Some move; the relay reports their enterprises (and one that did not move): only those
    # are read (each with its mark, whose seal the relay checks), only those that moved are
    # anchored.
    await _decide(ledger_db.url, rest)
    now = await _heads(ledger_db.url)
    moved = sorted(e for e in now if now[e] > heads.get(e, 0))
    still = next(e for e in heads if now[e] == heads[e])
    assert 0 < len(moved) < len(now)
    anchorer.moved([*moved, still])
    written, reads = await _anchor(ledger_db.url, anchorer)
    assert written == len(moved)
    assert sum(n for q, n in reads.rows if "anchor_marks" in q) == len(moved) + 1
    assert await _marks(ledger_db.url) == now == anchored_heads(log)
    # A relay started afresh sweeps, finds every chain at its mark, anchors nothing.
    written, _ = await _anchor(ledger_db.url, _anchorer(log, page_size=40))
    assert written == 0
    assert (await _verify(ledger_db, log)).ok


async def test_a_round_signs_at_most_its_budget_of_hashes_and_a_chain_goes_in_steps(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    rest = await _two_halves(ledger_db, enterprises=12, seed=97)
    log = tmp_path / "anchors.jsonl"
    anchorer = _anchorer(log, page_size=5, round_hashes=2)
    await _anchor(ledger_db.url, anchorer)
    assert await _marks(ledger_db.url) == await _heads(ledger_db.url)
    before = await _heads(ledger_db.url)
    await _decide(ledger_db.url, rest)
    now = await _heads(ledger_db.url)
    anchorer.moved(now)
    await _anchor(ledger_db.url, anchorer)
    assert await _marks(ledger_db.url) == now
    vouched = _vouched(log)
    sizes = [len(json.loads(line)["entryHashes"]) for line in log.read_bytes().splitlines()]
    assert max(sizes) == 2
    assert max(before.values()) > 2  # a chain longer than a round's budget: anchored in steps
    assert {e: max(h) for e, h in vouched.items()} == now
    assert (await _verify(ledger_db, log)).ok  # in steps, still contiguous from #1


async def test_a_long_span_is_signed_in_anchors_that_each_fit_a_kafka_record(
    ledger_db: LedgerDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The largest anchor allowed, of the longest chain ids, stays far below Kafka's 1 MiB.
    signer = Signer.from_file(signing_keys()[0])
    hashes = ["f" * 64] * anchoring.ANCHOR_HASHES_MAX
    line = sign_anchor(signer, "9" * 40, 1, hashes, datetime.now(UTC)).line()
    assert len(line) < 512 * 1024
    # A span longer than that (here: 2) goes in consecutive anchors, in one round.
    monkeypatch.setattr(anchoring, "ANCHOR_HASHES_MAX", 2)
    await _two_halves(ledger_db, enterprises=12, seed=97)
    log = tmp_path / "anchors.jsonl"
    await _anchor(ledger_db.url, _anchorer(log))
    heads = await _heads(ledger_db.url)
    assert max(heads.values()) > 2
    sizes = [len(json.loads(line)["entryHashes"]) for line in log.read_bytes().splitlines()]
    assert max(sizes) == 2
    assert {e: max(h) for e, h in _vouched(log).items()} == heads == await _marks(ledger_db.url)
    assert (await _verify(ledger_db, log)).ok  # contiguous from #1


async def test_a_head_past_its_entries_is_left_behind_not_read_forever(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=6, seed=101)
    heads = await _heads(ledger_db.url)
    broken = min(heads)
    ledger_db.tampered = True  # the owner moves a head past the entries it has
    await _owner(ledger_db, "UPDATE enterprises SET head_seq = head_seq + 5 WHERE"
                 " enterprise_id = $1", broken)  # fmt: skip
    anchorer = _anchorer(tmp_path / "anchors.jsonl", page_size=2, round_hashes=2)
    await asyncio.wait_for(_anchor(ledger_db.url, anchorer), 30)
    anchorer.moved(heads)
    await asyncio.wait_for(_anchor(ledger_db.url, anchorer), 30)
    # The others all anchored, that one as far as its entries go.
    assert await _marks(ledger_db.url) == heads


async def test_marks_are_taken_from_the_file_of_a_relay_that_kept_them_in_memory(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=30, seed=67)
    log = tmp_path / "anchors.jsonl"
    await _anchor(ledger_db.url, _anchorer(log))
    lines = log.read_bytes()
    # Before anchor_marks there were none: the upgraded relay streams its file, 7 chains at a
    # time, and anchors nothing again.
    await _owner(ledger_db, "DELETE FROM anchor_marks")
    written, _ = await _anchor(ledger_db.url, _anchorer(log, page_size=7))
    assert written == 0
    assert log.read_bytes() == lines
    assert await _marks(ledger_db.url) == await _heads(ledger_db.url)


async def test_only_the_ledgers_group_writes_marks_and_none_deletes_them(
    ledger_db: LedgerDb,
) -> None:
    relay = await asyncpg.connect(as_role(ledger_db.owner_url, "ledger_relay"))
    try:
        await relay.execute("INSERT INTO anchor_marks VALUES ('E', 1)")
        await relay.execute("UPDATE anchor_marks SET seq = 2 WHERE chain = 'E'")
        for sql in ("DELETE FROM anchor_marks", "TRUNCATE anchor_marks"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await relay.execute(sql)
        with pytest.raises(asyncpg.CheckViolationError):
            await relay.execute("UPDATE anchor_marks SET seq = 0")
    finally:
        await relay.close()
    # What each other login may do, asked of the catalog as the owner (the payouts and ingest
    # logins have no use of this schema at all).
    owner = await asyncpg.connect(ledger_db.owner_url)
    try:
        for login, reads in (("ledger_api", True), ("payouts", False), ("ingest_server", False)):
            granted = await owner.fetchval(
                "SELECT array_agg(p ORDER BY p) FILTER (WHERE has_table_privilege($1,"
                " 'anchor_marks'::regclass, p)) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE',"
                " 'DELETE', 'TRUNCATE']) AS p",
                login,
            )
            assert granted == (["SELECT"] if reads else None), login
    finally:
        await owner.close()


async def test_the_tests_soundness_check_names_an_entry_whose_enterprise_published_nothing(
    ledger_db: LedgerDb,
) -> None:
    """What the relay's moved chains rest on (every ledger test checks it at its end): each
    entry came with an outbox row of its enterprise. Without them, the check names it."""
    await _two_halves(ledger_db, enterprises=4, seed=83)
    assert await fetch(ledger_db.url, UNANNOUNCED) == []
    enterprise = min(await _heads(ledger_db.url))
    ledger_db.tampered = True
    await _owner(ledger_db, "DELETE FROM outbox WHERE enterprise_id = $1", enterprise)
    named = [r[0] for r in await fetch(ledger_db.url, UNANNOUNCED)]
    assert named[:1] == [f"{enterprise}#1"]


def _whole_scans(node: dict[str, Any]) -> set[str]:
    """The tables growing with the ledger that a plan reads whole (a sequential scan, or an
    index walked end to end)."""
    kind, table = node["Node Type"], node.get("Relation Name")
    found = set()
    if table in ("enterprises", "entries", "anchor_marks") and (
        kind == "Seq Scan" or (kind.startswith("Index") and "Index Cond" not in node)
    ):
        found.add(f"{kind} on {table}")
    for child in node.get("Plans", ()):
        found |= _whole_scans(child)
    return found


async def test_an_anchoring_of_moved_chains_reads_them_through_indexes(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    rest = await _two_halves(ledger_db, enterprises=20, seed=89)
    anchorer = _anchorer(tmp_path / "anchors.jsonl")
    await _anchor(ledger_db.url, anchorer)
    before = await _heads(ledger_db.url)
    await _decide(ledger_db.url, rest)
    anchorer.moved(e for e, h in (await _heads(ledger_db.url)).items() if h > before.get(e, 0))
    seen: dict[str, tuple[Any, ...]] = {}
    conn = await asyncpg.connect(ledger_db.url)
    try:

        def logged(q: LoggedQuery) -> None:
            seen[q.query] = tuple(q.args or ())

        conn.add_query_logger(logged)
        assert await anchorer.anchor(conn) > 0
        await asyncio.sleep(0.1)  # the logger is called soon after each statement, not in it
        conn.remove_query_logger(logged)
        statements, scans = dict(seen), {}
        for query, args in statements.items():
            if not query.lstrip().upper().startswith(("SELECT", "INSERT")):
                continue
            # The tables are small here: scans forbidden, the plan shows whether an index
            # serves the statement at all.
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_seqscan = off")
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
            if found := _whole_scans(json.loads(plan)[0]["Plan"]):
                scans[" ".join(query.split())[:120]] = sorted(found)
    finally:
        await conn.close()
    assert any("ANY($1" in q for q in statements), "the moved chains were not read by id"
    assert not scans, scans
