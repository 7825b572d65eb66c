"""Anchor marks the relay does not trust."""

# What the database's owner (or a login of the ledger's group) can do to them, and what the relay
# and `ledger verify --anchors` then do.

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from subsidy.infra.signing_keys import Signer, Verifier, key_id
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.anchors import AnchorError, append_lines, load_signed_anchors, sign_anchor
from subsidy.ledger.mark_seals import MarkSeal
from tests.ledger.database import LedgerDb, fetch, signing_keys
from tests.ledger.test_anchor_marks import (
    _anchor,
    _anchorer,
    _decide,
    _heads,
    _marks,
    _owner,
    _sample,
    _two_halves,
    _verify,
    _vouched,
)
from tests.ledger.test_anchors import _rewrite_and_rechain


async def test_marks_are_seeded_only_from_lines_the_relays_key_signed(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=6, seed=67)
    heads = await _heads(ledger_db.url)
    enterprise = min(heads)
    log = tmp_path / "anchors.jsonl"
    # A line another key signed, claiming the chain anchored far ahead: sealing it would have
    # made a valid mark past the head, and the chain's next entries would never be anchored.
    stranger = Signer(Ed25519PrivateKey.generate(), "stranger")
    append_lines(log, [sign_anchor(stranger, enterprise, 1, ["0" * 64] * 3, datetime.now(UTC))])
    written, _ = await _anchor(ledger_db.url, _anchorer(log))
    assert written == len(heads)  # every chain anchored, that one from #1 too
    assert await _marks(ledger_db.url) == heads


async def test_an_entry_missing_mid_chain_is_not_signed_over(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=12, seed=103)
    heads = await _heads(ledger_db.url)
    enterprise = max(heads, key=lambda e: (heads[e], e))
    assert heads[enterprise] >= 3
    ledger_db.tampered = True  # the owner deletes the chain's second entry
    await _owner(ledger_db, "ALTER TABLE entries DISABLE TRIGGER entries_append_only")
    await _owner(ledger_db, "DELETE FROM entries WHERE enterprise_id = $1 AND seq = 2", enterprise)
    log = tmp_path / "anchors.jsonl"
    await _anchor(ledger_db.url, _anchorer(log))
    # Its anchor stops before the gap: the hash of #3 is never signed as #2's.
    assert (await _marks(ledger_db.url))[enterprise] == 1
    assert [max(h) for e, h in _vouched(log).items() if e == enterprise] == [1]


async def _moved_by_two(db: LedgerDb, rest: list[dict[str, Any]]) -> tuple[str, int, int]:
    """The rest decided: an enterprise whose head moved by two or more, (id, old, new head)."""
    before = await _heads(db.url)
    await _decide(db.url, rest)
    after = await _heads(db.url)
    moved = [(e, before.get(e, 0), h) for e, h in after.items() if h - before.get(e, 0) >= 2]
    assert moved, "the mix moves some head by two entries or more"
    return min(moved)


async def _anchored_then_moved(
    db: LedgerDb, tmp_path: Path
) -> tuple[Anchorer, Path, tuple[str, int, int]]:
    """Half a mix decided and anchored, then the rest decided: the anchorer, its log and an
    enterprise whose head moved by two or more since (id, old, new head)."""
    rest = await _two_halves(db, enterprises=12, seed=71)
    log = tmp_path / "anchors.jsonl"
    anchorer = _anchorer(log)
    await _anchor(db.url, anchorer)
    return anchorer, log, await _moved_by_two(db, rest)


async def test_a_raised_mark_is_refused_and_the_chain_anchored_again_from_its_start(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    anchorer, log, (enterprise, _, new) = await _anchored_then_moved(ledger_db, tmp_path)
    # The owner (or any login of the ledger's group) raises the mark far past the head, which
    # would have silenced the chain for good: without the relay's seal it counts as no mark.
    refused = _sample("subsidy_ledger_anchor_marks_refused_total")
    await _owner(ledger_db, "UPDATE anchor_marks SET seq = $2 WHERE chain = $1", enterprise,
                 10**9)  # fmt: skip
    anchorer.moved([enterprise])
    assert (await _anchor(ledger_db.url, anchorer))[0] == 1
    assert _sample("subsidy_ledger_anchor_marks_refused_total") == refused + 1
    again = log.read_bytes().splitlines()[-1].decode()
    assert f'"chain":"{enterprise}","entryHashes"' in again
    assert '"fromSeq":1' in again
    assert f'"seq":{new}' in again
    assert (await _verify(ledger_db, log)).ok
    assert (await _marks(ledger_db.url))[enterprise] == new


async def test_a_raised_mark_with_the_relays_seal_skips_entries_and_verify_names_the_first(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    anchorer, log, (enterprise, old, new) = await _anchored_then_moved(ledger_db, tmp_path)
    # Only the relay's key seals a mark (a stolen key, or a relay at fault): entries skipped
    # that way are still named by `verify --anchors`, from the anchor log alone.
    seal = MarkSeal(Signer.from_file(signing_keys()[0])).seal(enterprise, old + 1)
    await _owner(ledger_db, "UPDATE anchor_marks SET seq = $2, seal = $3 WHERE chain = $1",
                 enterprise, old + 1, seal)  # fmt: skip
    anchorer.moved([enterprise])
    assert (await _anchor(ledger_db.url, anchorer))[0] == 1
    assert (await _verify(ledger_db, None)).ok  # the chain itself is sound
    result = await _verify(ledger_db, log)
    assert not result.ok
    assert result.first_broken_entry == f"{enterprise}#{old + 1}"
    assert result.detail.startswith(f"从未锚定，而其后的分录已锚定至 #{new} (never anchored")


async def test_an_older_sealed_mark_put_back_only_anchors_the_same_hashes_again(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    rest = await _two_halves(ledger_db, enterprises=12, seed=73)
    log = tmp_path / "anchors.jsonl"
    anchorer = _anchorer(log)
    await _anchor(ledger_db.url, anchorer)
    before = await _heads(ledger_db.url)
    await _decide(ledger_db.url, rest)
    after = await _heads(ledger_db.url)
    enterprise, old, new = min(
        (e, before[e], h) for e, h in after.items() if before.get(e, 0) and h > before[e]
    )
    kept = await fetch(ledger_db.url, "SELECT seq, seal FROM anchor_marks WHERE chain = $1",
                       enterprise)  # fmt: skip
    anchorer.moved(list(after))
    await _anchor(ledger_db.url, anchorer)
    # The owner puts the older mark back, seal and all (a replay): the relay takes it and
    # signs the same entries again, which the log's hashes agree with.
    await _owner(ledger_db, "UPDATE anchor_marks SET seq = $2, seal = $3 WHERE chain = $1",
                 enterprise, *kept[0])  # fmt: skip
    written, _ = await _anchor(ledger_db.url, _anchorer(log))
    assert written == 1
    again = log.read_bytes().splitlines()[-1].decode()
    assert f'"chain":"{enterprise}","entryHashes"' in again
    assert f'"fromSeq":{old + 1}' in again
    assert (await _verify(ledger_db, log)).ok
    assert (await _marks(ledger_db.url))[enterprise] == new


async def test_a_rewrite_under_a_lowered_mark_is_signed_twice_and_refused(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=12, seed=79)
    log = tmp_path / "anchors.jsonl"
    await _anchor(ledger_db.url, _anchorer(log))
    victim = await fetch(
        ledger_db.url,
        "SELECT x.enterprise_id, x.seq, x.entitlement_id FROM entries x"
        " JOIN enterprises n USING (enterprise_id) JOIN entitlements t USING (entitlement_id)"
        " WHERE x.kind = 'GRANT' AND x.amount_fen > 100 AND t.granted_fen > 100"
        "   AND x.seq < n.head_seq"
        " ORDER BY n.head_seq DESC, x.seq LIMIT 1",
    )
    enterprise, seq, entitlement = victim[0]
    ledger_db.tampered = True
    await _rewrite_and_rechain(ledger_db, enterprise, seq, entitlement)
    # ... and lowers the chain's mark below the rewritten entry.
    if seq > 1:
        await _owner(ledger_db, "UPDATE anchor_marks SET seq = $2 WHERE chain = $1", enterprise,
                     seq - 1)  # fmt: skip
    else:
        await _owner(ledger_db, "DELETE FROM anchor_marks WHERE chain = $1", enterprise)
    anchorer = _anchorer(log)
    assert (await _anchor(ledger_db.url, anchorer))[0] == 1
    # The relay signed the rewritten entry's hash: two anchors disagree about it.
    with pytest.raises(AnchorError, match=f"contradicts an earlier anchor of {enterprise}#{seq}"):
        _vouched(log)


async def test_after_a_key_rotation_every_chain_is_anchored_again_and_verified_per_key(
    ledger_db: LedgerDb, tmp_path: Path
) -> None:
    await _two_halves(ledger_db, enterprises=6, seed=107)
    heads = await _heads(ledger_db.url)
    log = tmp_path / "anchors.jsonl"
    await _anchor(ledger_db.url, _anchorer(log))
    old_key = Verifier.from_file(signing_keys()[1])
    new_private = Ed25519PrivateKey.generate()
    new_key = Verifier(new_private.public_key(), key_id(new_private.public_key()))
    rotated = Anchorer(Signer(new_private, new_key.key_id), AnchorLog(log, None, ""))
    # The old key's seals are foreign to the new one: every chain again from #1, counted.
    refused = _sample("subsidy_ledger_anchor_marks_refused_total")
    assert (await _anchor(ledger_db.url, rotated))[0] == len(heads)
    assert _sample("subsidy_ledger_anchor_marks_refused_total") == refused + len(heads)
    # The log holds both keys' anchors: each checked by its own key, and they agree.
    both = load_signed_anchors(log, [old_key, new_key])
    assert {chain: max(hashes) for chain, hashes in both.items()} == heads
    with pytest.raises(AnchorError, match="not by the given public key"):
        load_signed_anchors(log, new_key)
