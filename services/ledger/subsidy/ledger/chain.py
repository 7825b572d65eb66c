"""The journal's hash chain: one per enterprise, sha256 over the previous hash and the entry."""

# Why per enterprise and not one global chain: a global chain would make every writer wait for the
# single head, so workers deciding different enterprises would contend on every batch. Per
# enterprise, the chain head lives on the enterprise row that every writer already locks (SELECT …
# FOR UPDATE) before touching that enterprise's book, so one lock serialises both the caps and the
# chain, and writers of different enterprises never touch each other's heads.

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import asyncpg

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class EntryFields:
    """The content of one journal entry that its hash covers (everything but the hashes)."""

    enterprise_id: str
    seq: int
    entitlement_id: str
    kind: str
    amount_fen: int
    rule_id: str
    measure: int
    item_id: str
    year: int
    district: str
    clause: str
    funding_channels: tuple[str, ...]
    catalog_version: str
    caused_by_event_id: str
    booked_at: datetime

    def canonical(self) -> bytes:
        """Sorted-key compact JSON; the timestamp in UTC to the microsecond, as stored."""
        body: dict[str, Any] = {
            "enterpriseId": self.enterprise_id,
            "seq": self.seq,
            "entitlementId": self.entitlement_id,
            "kind": self.kind,
            "amountFen": self.amount_fen,
            "ruleId": self.rule_id,
            "measure": self.measure,
            "itemId": self.item_id,
            "year": self.year,
            "district": self.district,
            "clause": self.clause,
            "fundingChannels": list(self.funding_channels),
            "catalogVersion": self.catalog_version,
            "causedByEventId": self.caused_by_event_id,
            "bookedAt": self.booked_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def columns(self) -> dict[str, Any]:
        """The fields by `entries` column."""
        values = {name: getattr(self, name) for name in ENTRY_FIELDS}
        values["funding_channels"] = list(self.funding_channels)
        return values

    @property
    def name(self) -> str:
        """How an operator finds the entry: `<enterpriseId>#<seq>`."""
        return f"{self.enterprise_id}#{self.seq}"


def entry_hash(prev_hash: str, fields: EntryFields) -> str:
    """sha256(prev_hash ‖ '\\n' ‖ canonical fields), hex."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + fields.canonical()).hexdigest()


# Column names of the hashed fields, in declaration order.
ENTRY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EntryFields))


def fields_from_row(row: asyncpg.Record) -> EntryFields:
    """An `entries` row's hashed fields."""
    values = {name: row[name] for name in ENTRY_FIELDS}
    values["funding_channels"] = tuple(values["funding_channels"])
    return EntryFields(**values)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What `verify` found: ok, how many entries it checked, and the first broken one."""

    ok: bool
    entries_checked: int
    first_broken_entry: str = ""
    detail: str = ""


class _Broken(Exception):
    def __init__(self, entry: str, detail: str) -> None:
        super().__init__(f"{entry}: {detail}")
        self.entry = entry
        self.detail = detail


class _ChainWalker:
    """Walks entries in (enterprise, seq) order, checking each link against the last and, when
    given signed anchors, each anchored entry against the hash the ledger signed and that no
    entry before a chain's last anchored one went unanchored."""

    def __init__(
        self,
        heads: dict[str, tuple[int, str]],
        anchored: Mapping[str, Mapping[int, str]] | None = None,
    ) -> None:
        self.heads = heads
        self.anchored = anchored or {}
        self.seen: set[str] = set()
        self.enterprise: str | None = None
        self.seq = 0
        self.hash = GENESIS
        self.checked = 0
        self.top = 0  # the current chain's last anchored seq

    def entry(self, row: asyncpg.Record) -> None:
        fields = fields_from_row(row)
        if fields.enterprise_id != self.enterprise:
            self.finish()
            if fields.enterprise_id not in self.heads:
                raise _Broken(fields.name, "entry of an enterprise the ledger does not know")
            self.enterprise, self.seq, self.hash = fields.enterprise_id, 0, GENESIS
            self.seen.add(fields.enterprise_id)
            self.top = max(self.anchored.get(fields.enterprise_id, {}), default=0)
        expected = self.seq + 1
        if fields.seq != expected:
            raise _Broken(
                f"{fields.enterprise_id}#{expected}",
                f"missing or reordered entry: the chain goes from #{self.seq} to #{fields.seq}",
            )
        if row["prev_hash"] != self.hash:
            raise _Broken(fields.name, "prev_hash does not match the hash of the entry before it")
        if entry_hash(row["prev_hash"], fields) != row["hash"]:
            raise _Broken(fields.name, "hash does not match the entry's content (it was altered)")
        signed = self.anchored.get(fields.enterprise_id, {}).get(fields.seq)
        if signed is not None and signed != row["hash"]:
            raise _Broken(
                fields.name,
                f"与签名锚点不符，该分录被改写且其后的链被重算 (differs from the signed anchor: "
                f"the ledger signed {signed[:12]}…, the entry now hashes to {row['hash'][:12]}…; "
                f"it was rewritten and the chain recomputed after it)",
            )
        if signed is None and fields.seq < self.top:
            # Each anchor starts where the chain's previous one ended (or at 1), so a hole is
            # an entry the relay skipped (a mark raised past it and sealed, which takes the
            # relay's key) or a log that lacks some of the relay's lines.
            raise _Broken(
                fields.name,
                f"从未锚定，而其后的分录已锚定至 #{self.top} (never anchored although later "
                f"entries were, up to #{self.top}: the relay was made to skip it)",
            )
        self.seq, self.hash = fields.seq, row["hash"]
        self.checked += 1

    def finish(self) -> None:
        """Close the current enterprise's chain against its stored head."""
        if self.enterprise is None:
            return
        head_seq, head_hash = self.heads.pop(self.enterprise)
        ends = f"its chain ends at #{self.seq} {self.hash[:12]}…"
        if head_seq > self.seq:
            raise _Broken(
                f"{self.enterprise}#{self.seq + 1}",
                f"missing entry: the enterprise's head is #{head_seq} but {ends}",
            )
        if head_seq < self.seq:
            raise _Broken(
                f"{self.enterprise}#{head_seq + 1}",
                f"entry beyond the enterprise's head #{head_seq}: {ends}",
            )
        self._anchored_beyond(self.enterprise, self.seq)
        if head_hash != self.hash:
            raise _Broken(
                f"{self.enterprise}#{self.seq}",
                f"the enterprise's head hash {head_hash[:12]}… differs: {ends}",
            )
        self.enterprise = None

    def _anchored_beyond(self, enterprise: str, last: int) -> None:
        anchored = self.anchored.get(enterprise)
        if anchored and max(anchored) > last:
            raise _Broken(
                f"{enterprise}#{last + 1}",
                f"已签名锚定的分录不见了 (an anchored entry is missing: the anchors cover "
                f"#{max(anchored)} but the chain ends at #{last})",
            )

    def leftovers(self) -> None:
        """Enterprises with a head but no entries at all, and anchored chains that vanished."""
        for enterprise_id in sorted(set(self.anchored) - self.seen):
            self._anchored_beyond(enterprise_id, 0)
        for enterprise_id, (head_seq, _) in sorted(self.heads.items()):
            if head_seq != 0:
                raise _Broken(
                    f"{enterprise_id}#1",
                    f"the enterprise's head is #{head_seq} but it has no entries",
                )


async def verify_chains(
    conn: asyncpg.Connection, anchored: Mapping[str, Mapping[int, str]] | None = None
) -> VerifyResult:
    """Recompute every enterprise's chain in one snapshot; name the first broken entry. With
    `anchored` (entry hashes by chain and seq, from signed anchors), an entry whose hash is not
    the one signed is broken too, even when the chain after it was recomputed, and so is one
    that no anchor covers although a later entry of its chain is anchored."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        heads = {
            r["enterprise_id"]: (r["head_seq"], r["head_hash"])
            for r in await conn.fetch("SELECT enterprise_id, head_seq, head_hash FROM enterprises")
        }
        walker = _ChainWalker(heads, anchored)
        try:
            async for row in conn.cursor(
                "SELECT * FROM entries ORDER BY enterprise_id, seq", prefetch=2_000
            ):
                walker.entry(row)
            walker.finish()
            walker.leftovers()
        except _Broken as broken:
            return VerifyResult(False, walker.checked, broken.entry, broken.detail)
    return VerifyResult(True, walker.checked)
