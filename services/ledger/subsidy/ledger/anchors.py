"""Signed chain heads (anchors) outside PostgreSQL: made, written to the anchor log, read back."""

# An anchor states, under the ledger's Ed25519 key, that an enterprise's chain had reached `seq`
# with `headHash`, and lists the hashes of the entries since that chain's previous anchor. The
# database owner can rewrite an entry and re-chain everything after it, but cannot make the
# recomputed chain pass through a hash the ledger signed earlier: `subsidy ledger verify --anchors`
# finds the first entry that differs. The signed bytes are the RFC 8785 (JCS) canonical JSON of the
# anchor without its signature (docs/security.md says why).

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from subsidy.infra.signing_keys import Signer, Verifier

ANCHOR_TYPE = "subsidy.ledger.anchor/1"
_FIELDS = ("type", "chain", "fromSeq", "seq", "entryHashes", "headHash", "signedAt", "keyId")


@dataclass(frozen=True, slots=True)
class Anchor:
    """One chain's head, signed: entries `from_seq`…`seq` and their hashes, the last the head."""

    chain: str
    from_seq: int
    seq: int
    entry_hashes: tuple[str, ...]
    signed_at: str
    key_id: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """What is signed: every field but the signature."""
        return {
            "type": ANCHOR_TYPE,
            "chain": self.chain,
            "fromSeq": self.from_seq,
            "seq": self.seq,
            "entryHashes": list(self.entry_hashes),
            "headHash": self.entry_hashes[-1],
            "signedAt": self.signed_at,
            "keyId": self.key_id,
        }

    def signed_bytes(self) -> bytes:
        return rfc8785.dumps(self.body())

    def line(self) -> bytes:
        """One JSON line of the anchor log (itself canonical JSON, signature included)."""
        return rfc8785.dumps({**self.body(), "signature": self.signature}) + b"\n"

    def hashes(self) -> Iterator[tuple[int, str]]:
        """(seq, hash) of every entry the anchor covers."""
        return enumerate(self.entry_hashes, start=self.from_seq)


def sign_anchor(
    signer: Signer, chain: str, from_seq: int, hashes: list[str], now: datetime
) -> Anchor:
    """An anchor over `hashes` (entries from_seq… of `chain`), signed at `now`."""
    unsigned = Anchor(
        chain, from_seq, from_seq + len(hashes) - 1, tuple(hashes),
        now.astimezone(UTC).isoformat(timespec="seconds"), signer.key_id,
    )  # fmt: skip
    signature = base64.b64encode(signer.sign(unsigned.signed_bytes())).decode("ascii")
    return replace(unsigned, signature=signature)


class AnchorError(ValueError):
    """An anchor line that is malformed, signed by another key, or whose signature is wrong."""

    def __init__(self, line_no: int, detail: str) -> None:
        super().__init__(f"line {line_no}: {detail}")
        self.line_no = line_no
        self.detail = detail


def parse_anchor(raw: bytes, line_no: int) -> Anchor:
    """One anchor line, its shape checked (its signature is not)."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("type") != ANCHOR_TYPE:
            raise ValueError(f"not an anchor (type must be {ANCHOR_TYPE!r})")
        missing = [f for f in (*_FIELDS, "signature") if f not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        hashes = tuple(str(h) for h in data["entryHashes"])
        anchor = Anchor(
            str(data["chain"]), int(data["fromSeq"]), int(data["seq"]), hashes,
            str(data["signedAt"]), str(data["keyId"]), str(data["signature"]),
        )  # fmt: skip
    except (ValueError, TypeError) as err:
        raise AnchorError(line_no, str(err)) from None
    if not hashes or anchor.from_seq < 1 or anchor.seq != anchor.from_seq + len(hashes) - 1:
        raise AnchorError(line_no, "fromSeq, seq and entryHashes do not agree")
    if data["headHash"] != hashes[-1]:
        raise AnchorError(line_no, "headHash is not the last of entryHashes")
    return anchor


class AnchorContradiction(AnchorError):
    """Two anchors, each signed by a given key, that give one entry different hashes: the
    entry was rewritten between the two anchorings (or another hand held a signing key)."""

    def __init__(self, line_no: int, chain: str, seq: int) -> None:
        super().__init__(line_no, f"contradicts an earlier anchor of {chain}#{seq}")
        self.chain = chain
        self.seq = seq


def check_signature(anchor: Anchor, verifier: Verifier, line_no: int) -> None:
    """Raise AnchorError unless the anchor is signed by `verifier`'s key."""
    if anchor.key_id != verifier.key_id:
        raise AnchorError(
            line_no, f"signed by key {anchor.key_id}, not by the given public key {verifier.key_id}"
        )
    try:
        signature = base64.b64decode(anchor.signature, validate=True)
    except (binascii.Error, ValueError):
        raise AnchorError(line_no, "signature is not base64") from None
    if not verifier.valid(signature, anchor.signed_bytes()):
        raise AnchorError(line_no, f"bad signature on the anchor of {anchor.chain}#{anchor.seq}")


def read_anchor_file(path: Path) -> Iterator[tuple[int, Anchor]]:
    """(line number, anchor) of each non-empty line of an anchor log file."""
    with path.open("rb") as lines:
        for line_no, raw in enumerate(lines, start=1):
            if raw.strip():
                yield line_no, parse_anchor(raw, line_no)


def load_signed_anchors(
    path: Path, verifiers: Verifier | Iterable[Verifier]
) -> dict[str, dict[int, str]]:
    """Every entry hash the anchor file vouches for, by chain and seq, each anchor's signature
    checked by the given key of its keyId (several across a key rotation: a rewrite made under
    the old key still contradicts the old key's anchors); AnchorError on the first line that is
    malformed, forged, signed by no given key, or contradicts another."""
    keys = {v.key_id: v for v in ([verifiers] if isinstance(verifiers, Verifier) else verifiers)}
    vouched: dict[str, dict[int, str]] = {}
    for line_no, anchor in read_anchor_file(path):
        verifier = keys.get(anchor.key_id)
        if verifier is None:
            given = ", ".join(sorted(keys))
            raise AnchorError(
                line_no, f"signed by key {anchor.key_id}, not by the given public key {given}"
            )
        check_signature(anchor, verifier, line_no)
        chain = vouched.setdefault(anchor.chain, {})
        for seq, entry_hash in anchor.hashes():
            if chain.setdefault(seq, entry_hash) != entry_hash:
                raise AnchorContradiction(line_no, anchor.chain, seq)
    return vouched


def mark_pages(path: Path, size: int, verifier: Verifier | None = None) -> Iterator[dict[str, int]]:
    """The highest anchored seq of each chain in a log file, `size` chains at a time (a chain
    may recur in a later page, with a higher seq: later lines of a chain go further). A line
    that does not parse, or (given `verifier`) is not signed by its key, is skipped, so the
    worst a bad file does is anchor again."""
    if not path.exists():
        return
    page: dict[str, int] = {}
    with path.open("rb") as lines:
        for line_no, raw in enumerate(lines, start=1):
            try:
                anchor = parse_anchor(raw, line_no)
                if verifier is not None:
                    check_signature(anchor, verifier, line_no)
            except AnchorError:
                continue
            if anchor.chain not in page and len(page) >= size:
                yield page
                page = {}
            page[anchor.chain] = max(page.get(anchor.chain, 0), anchor.seq)
    if page:
        yield page


def append_lines(path: Path, anchors: Iterable[Anchor]) -> None:
    """Append anchors to the file and fsync, so an anchor that was published is on disk."""
    data = b"".join(a.line() for a in anchors)
    if not data:
        return
    with path.open("ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
