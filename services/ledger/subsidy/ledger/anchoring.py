"""Anchoring: the chains' heads read from the ledger, signed, and appended to the anchor log."""

# The anchor log is the anchor file and the anchors topic, both outside PostgreSQL; each chain's
# position is kept in anchor_marks.

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from subsidy.infra.records import RecordWriter
from subsidy.infra.signing_keys import Signer, Verifier
from subsidy.ledger import metrics
from subsidy.ledger.anchors import Anchor, append_lines, mark_pages, sign_anchor
from subsidy.ledger.mark_seals import MarkSeal

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ChainSource:
    """Hash chains to anchor: `heads` lists (chain, head_seq) of every chain; `links`, given
    chains ($1), what each one's last anchor covered ($2) and its head ($3), lists (chain, seq,
    hash) in order; `heads_of`, when the source has many chains, lists the heads of the chains
    named in $1 (the ones the relay saw move), so that anchoring between sweeps reads those
    only. A source without it is read whole at each anchoring (the payouts' single chain).
    Anchored only where `table` exists (a component not migrated is none)."""

    table: str
    heads: str
    links: str
    heads_of: str | None = None


# The journal: one chain per enterprise.
JOURNAL = ChainSource(
    "entries",
    "SELECT enterprise_id AS chain, head_seq FROM enterprises WHERE head_seq > 0",
    "SELECT e.enterprise_id AS chain, e.seq, e.hash FROM entries e"
    " JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS c(id, after, upto)"
    "   ON e.enterprise_id = c.id AND e.seq > c.after AND e.seq <= c.upto"
    " ORDER BY e.enterprise_id, e.seq",
    "SELECT enterprise_id AS chain, head_seq FROM enterprises"
    " WHERE enterprise_id = ANY($1::text[]) AND head_seq > 0",
)
# Other components' chains (the payouts' transfers), registered by the composition root.
CHAINS: list[ChainSource] = [JOURNAL]


def behind(heads: str, page: bool = False) -> str:
    """Every chain of a heads query with its mark and seal: (chain, mark, seal, head_seq). All
    of them, not only those past their mark: a mark counts only once its seal is checked. A
    sweep's page is the next chains in chain order after $1, at most $2 of them (the marks read
    from $1 on too, not from the first one at every page)."""
    return (
        "SELECT h.chain, m.seq AS mark, m.seal, h.head_seq"
        f" FROM ({heads}) AS h LEFT JOIN anchor_marks m ON m.chain = h.chain"
        + (" AND m.chain > $1 WHERE h.chain > $1 ORDER BY h.chain LIMIT $2" if page else "")
    )


# The mark and its seal are replaced whole: a mark the relay refused (a seal that is not its
# own) must give way to the one it writes after anchoring again, even a lower one. Two
# anchorings at once (the relay's, `ledger verify`'s) may then take a mark back, which only
# anchors the same hashes again.
_MARK = (
    "INSERT INTO anchor_marks AS m (chain, seq, seal)"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])"
    " ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, seal = excluded.seal"
)
# At most this many entries in one anchor: each hash is ~67 bytes of its record, and a record
# must stay well under Kafka's 1 MiB; a longer span is anchored in consecutive anchors.
ANCHOR_HASHES_MAX = 4_000


class AnchorLog:
    """Where anchors go: appended to the file (fsynced) and then produced to the topic, keyed
    by chain; only the ledger writes either."""

    def __init__(self, path: Path, producer: RecordWriter | None, topic: str) -> None:
        self.path = path
        self._producer = producer
        self._topic = topic

    async def append(self, anchors: list[Anchor]) -> None:
        await asyncio.to_thread(append_lines, self.path, anchors)
        if self._producer is None or not anchors:
            return
        # A head may be anchored again (a send that failed after the file took it, a mark
        # lost in a crash): each signing is its own record, named by its bytes.
        lines = [a.line().rstrip() for a in anchors]
        sends = [
            await self._producer.send(
                self._topic, line, key=a.chain.encode(),
                ce_id=f"anchor/{a.chain}/{a.seq}/{hashlib.sha256(line).hexdigest()[:16]}",
            )
            for a, line in zip(anchors, lines, strict=True)
        ]  # fmt: skip
        await asyncio.gather(*sends)


@dataclass(slots=True)
class _Found:
    """One round's read: how many chains the query returned, the spans taken (chain, after,
    upto) and their links; `whole` when every returned chain reached its head, else `done` is
    the last one that did, in order ('' when none), and `cut` the one the budget cut short."""

    rows: int = 0
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    hashes: dict[str, list[str]] = field(default_factory=dict)
    whole: bool = True
    done: str = ""
    cut: str = ""


class Anchorer:
    """Signs the chains that moved past their mark in anchor_marks. Between sweeps it reads
    only the chains it was told moved (`moved`: the enterprises whose decisions the relay
    published); a sweep goes over every chain, `page_size` at a time: the first anchoring,
    after `resume`, every `sweep_seconds`, and when more than `moved_max` chains moved at once.
    A round signs at most `round_hashes` entries. So what it holds is bounded by its settings,
    never by the ledger's size nor by one chain's history."""

    def __init__(
        self,
        signer: Signer,
        anchor_log: AnchorLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        page_size: int = 5_000,
        round_hashes: int = 50_000,
        moved_max: int = 100_000,
        sweep_seconds: float | None = None,
    ) -> None:
        self._signer = signer
        self._seal = MarkSeal(signer)
        self._log = anchor_log
        self._clock = clock
        self._page_size = page_size
        self._round_hashes = round_hashes
        self._moved_max = moved_max
        self._sweep_seconds = sweep_seconds
        self._moved: set[str] = set()
        self._sweep_due = True
        self._next_sweep = 0.0

    def resume(self) -> None:
        """Sweep at the next anchoring (a standby relay taking over knows nothing of what the
        previous leader published)."""
        self._sweep_due = True
        self._moved.clear()

    def moved(self, chains: Iterable[str]) -> None:
        """Chains whose heads may have moved (enterprises whose decisions were published)."""
        if self._sweep_due:
            return  # the sweep reads every chain
        self._moved.update(chains)
        if len(self._moved) > self._moved_max:
            self.resume()

    async def anchor(self, conn: asyncpg.Connection) -> int:
        """Anchor every chain past its mark among those that moved (or all, when a sweep is
        due); returns how many anchors were written."""
        started = time.monotonic()
        if self._sweep_due or (self._sweep_seconds and started >= self._next_sweep):
            # Cleared first: what was published so far is committed, and the sweep sees it.
            self._moved.clear()
            written = await self._sweep(conn)
            self._sweep_due = False
            self._next_sweep = started + (self._sweep_seconds or 0)
            kind = "sweep"
        else:
            chains, self._moved = self._moved, set()
            try:
                written = await self._anchor_moved(conn, sorted(chains))
            except BaseException:
                self._moved |= chains  # tried again at the next anchoring
                raise
            kind = "moved"
        metrics.ANCHOR_PASS_SECONDS.labels(kind).observe(time.monotonic() - started)
        if written:
            log.info("ledger.anchored", anchors=written, sweep=kind == "sweep",
                     path=str(self._log.path))  # fmt: skip
        return written

    async def _anchor_moved(self, conn: asyncpg.Connection, chains: list[str]) -> int:
        written = 0
        for source in await _present(conn):
            pages: list[tuple[Any, ...]] = [()]
            if source.heads_of is None:
                query = behind(source.heads)
            else:
                query = behind(source.heads_of)
                pages = [(chains[i : i + self._page_size],)
                         for i in range(0, len(chains), self._page_size)]  # fmt: skip
            for args in pages:
                while True:  # until the round's hash budget left none of them behind
                    found = await self._behind(conn, source, query, *args)
                    signed = await self._sign(conn, found)
                    written += signed
                    # A chain whose links are missing gets no anchor: left behind (verify
                    # names it), not read again and again.
                    if found.whole or not signed:
                        break
        return written

    async def _sweep(self, conn: asyncpg.Connection) -> int:
        """Every chain past its mark, a page at a time in chain order."""
        await self._seed_marks(conn)
        written = 0
        for source in await _present(conn):
            query, last = behind(source.heads, page=True), ""
            while True:
                found = await self._behind(conn, source, query, last, self._page_size)
                signed = await self._sign(conn, found)
                written += signed
                if found.whole and found.rows < self._page_size:
                    break
                # From the chain the budget cut short (the same page again when it is the
                # first); past it when it got no anchor (its links are missing: verify names it).
                last = (found.done or last) if signed else (found.cut or found.done)
        return written

    async def _behind(
        self, conn: asyncpg.Connection, source: ChainSource, query: str, *args: Any
    ) -> _Found:
        """The chains past their mark and their new links, read in one snapshot: at most
        `round_hashes` links in all, so a chain with a long way to go is anchored in steps."""
        found = _Found()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(query, *args)
            found.rows, budget = len(rows), self._round_hashes
            for r in rows:
                chain, head = r["chain"], r["head_seq"]
                after = self._mark(chain, r["mark"], r["seal"], head)
                take = min(head - after, budget)
                if take:
                    found.spans.append((chain, after, after + take))
                    budget -= take
                if take < head - after:
                    found.whole, found.cut = False, chain
                    break
                found.done = chain
            if found.spans:
                columns = [list(column) for column in zip(*found.spans, strict=True)]
                links = await conn.fetch(source.links, *columns)
                found.hashes = _contiguous(links, {chain: after for chain, after, _ in found.spans})
        return found

    def _mark(self, chain: str, mark: int | None, seal: str | None, head: int) -> int:
        """Where the chain's anchoring stands: its mark when the relay sealed it, else 0 (from
        its first entry again); a sealed mark past the head means anchored entries are gone."""
        if mark is None:
            return 0
        if not self._seal.valid(chain, mark, seal):
            metrics.ANCHOR_MARKS_REFUSED.inc()
            log.error("ledger.anchor_mark_refused", chain=chain, mark=mark)
            return 0
        if mark > head:
            metrics.ANCHOR_MARKS_REFUSED.inc()
            log.error("ledger.anchored_entries_missing", chain=chain, mark=mark, head=head)
            return head  # nothing to sign; `ledger verify --anchors` names what is missing
        return mark

    async def _sign(self, conn: asyncpg.Connection, found: _Found) -> int:
        """Sign, append to the log, then move the marks: a crash in between anchors the same
        entries again, never skips one."""
        now = self._clock()
        anchors = [
            sign_anchor(self._signer, chain, after + 1 + i, hashes[i : i + ANCHOR_HASHES_MAX], now)
            for chain, after, _ in found.spans
            if (hashes := found.hashes.get(chain, []))
            for i in range(0, len(hashes), ANCHOR_HASHES_MAX)
        ]
        if not anchors:
            return 0
        await self._log.append(anchors)
        await self._write_marks(conn, {a.chain: a.seq for a in anchors})
        metrics.ANCHORS.inc(len(anchors))
        return len(anchors)

    async def _write_marks(self, conn: asyncpg.Connection, marks: dict[str, int]) -> None:
        chains = list(marks)
        seals = [self._seal.seal(chain, marks[chain]) for chain in chains]
        await conn.execute(_MARK, chains, [marks[c] for c in chains], seals)

    async def _seed_marks(self, conn: asyncpg.Connection) -> None:
        """Marks from the anchor file when there are none yet but the file has anchors (a
        relay upgraded from keeping its positions in memory): streamed, a page at a time."""
        if await conn.fetchval("SELECT EXISTS (SELECT FROM anchor_marks)"):
            return
        # Only lines this relay's key signed: the marks it seals from them must mean that an
        # anchor up to there is in the log, as every mark it writes after anchoring does.
        own = Verifier(self._signer.key.public_key(), self._signer.key_id)
        pages = mark_pages(self._log.path, self._page_size, own)
        async with conn.transaction():  # all or none: a partial seed would never be completed
            while (page := await asyncio.to_thread(next, pages, None)) is not None:
                await self._write_marks(conn, page)


def _contiguous(links: list[asyncpg.Record], after: dict[str, int]) -> dict[str, list[str]]:
    """Each chain's hashes from its mark on, up to the first seq that is missing: an anchor
    names its entries by position, so a hash after a gap would be signed as the wrong seq (the
    rows come in seq order, so none after the gap is the next one expected)."""
    hashes: dict[str, list[str]] = {}
    gaps: set[str] = set()
    for r in links:
        chain, taken = r["chain"], hashes.setdefault(r["chain"], [])
        expected = after[chain] + len(taken) + 1
        if r["seq"] == expected:
            taken.append(r["hash"])
        elif chain not in gaps:
            gaps.add(chain)  # `ledger verify` names the missing entry
            log.error("ledger.chain_gap", chain=chain, missing=expected, found=r["seq"])
    return hashes


async def _present(conn: asyncpg.Connection) -> list[ChainSource]:
    """The registered sources whose table exists."""
    return [
        source
        for source in CHAINS
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", source.table)
    ]
