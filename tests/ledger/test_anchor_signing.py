"""Anchors and the ledger's keys, pure."""

# The canonical form signed, signatures checked, forged or contradicting anchors refused, a key pair
# made with its private half 0600.

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from subsidy.cli.main import app
from subsidy.infra.signing_keys import KeyFileError, Signer, Verifier, load_private_key
from subsidy.ledger.anchors import (
    AnchorError,
    append_lines,
    load_signed_anchors,
    mark_pages,
    sign_anchor,
)

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
HASHES = ["a" * 64, "b" * 64, "c" * 64]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Signer, Verifier]:
    result = CliRunner().invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    private = tmp_path / "keys" / "ledger-signing.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    return Signer.from_file(private), Verifier.from_file(tmp_path / "keys/ledger-signing.pub.pem")


def test_keygen_never_overwrites_a_key(tmp_path: Path, keys: tuple[Signer, Verifier]) -> None:
    result = CliRunner().invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    assert result.exit_code == 2
    assert "never overwritten" in result.output


def test_a_public_key_is_not_a_signing_key(tmp_path: Path, keys: tuple[Signer, Verifier]) -> None:
    with pytest.raises(KeyFileError, match="private key"):
        load_private_key(tmp_path / "keys/ledger-signing.pub.pem")
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "nowhere.pem")


def test_the_signed_bytes_are_rfc8785_json(keys: tuple[Signer, Verifier]) -> None:
    signer, verifier = keys
    anchor = sign_anchor(signer, "91320594MA1X7K2Q8F", 4, HASHES, NOW)
    assert (
        anchor.signed_bytes()
        == (
            '{"chain":"91320594MA1X7K2Q8F","entryHashes":["' + '","'.join(HASHES) + '"],'
            '"fromSeq":4,"headHash":"' + HASHES[-1] + '","keyId":"' + signer.key_id + '",'
            '"seq":6,"signedAt":"2026-12-06T10:30:00+00:00","type":"subsidy.ledger.anchor/1"}'
        ).encode()
    )
    assert verifier.valid(base64.b64decode(anchor.signature), anchor.signed_bytes())


def test_signed_anchors_vouch_for_every_hash(tmp_path: Path, keys: tuple[Signer, Verifier]) -> None:
    signer, verifier = keys
    log = tmp_path / "anchors.jsonl"
    append_lines(log, [sign_anchor(signer, "E1", 1, HASHES[:2], NOW)])
    append_lines(log, [sign_anchor(signer, "E1", 3, HASHES[2:], NOW),
                       sign_anchor(signer, "E2", 1, HASHES[:1], NOW)])  # fmt: skip
    assert load_signed_anchors(log, verifier) == {
        "E1": {1: HASHES[0], 2: HASHES[1], 3: HASHES[2]},
        "E2": {1: HASHES[0]},
    }
    # Each chain's highest seq, a page of chains at a time (E1's two lines in one page).
    assert list(mark_pages(log, 1)) == [{"E1": 3}, {"E2": 1}]


def _forge(line: bytes, **changes: object) -> bytes:
    data = json.loads(line)
    data.update(changes)
    return json.dumps(data).encode() + b"\n"


def test_a_forged_anchor_is_refused(tmp_path: Path, keys: tuple[Signer, Verifier]) -> None:
    signer, verifier = keys
    good = sign_anchor(signer, "E1", 1, HASHES, NOW).line()
    impostor = sign_anchor(Signer.from_file(_other_key(tmp_path)), "E1", 1, HASHES, NOW)
    for forged, why in (
        # The owner's own hashes under the ledger's signature.
        (_forge(good, entryHashes=["d" * 64, *HASHES[1:]]), "bad signature"),
        # Signed with another key that claims the ledger's key id.
        (_forge(impostor.line(), keyId=signer.key_id), "bad signature"),
        (_forge(good, signature="not base64!"), "not base64"),
        (_forge(good, headHash="d" * 64), "headHash"),
        (b'{"type": "something else"}\n', "not an anchor"),
    ):
        log = tmp_path / "forged.jsonl"
        log.write_bytes(good + forged)
        with pytest.raises(AnchorError, match=why) as refused:
            load_signed_anchors(log, verifier)
        assert refused.value.line_no == 2


def test_contradicting_anchors_are_refused(tmp_path: Path, keys: tuple[Signer, Verifier]) -> None:
    signer, verifier = keys
    log = tmp_path / "anchors.jsonl"
    append_lines(log, [sign_anchor(signer, "E1", 1, HASHES[:2], NOW),
                       sign_anchor(signer, "E1", 2, ["d" * 64], NOW)])  # fmt: skip
    with pytest.raises(AnchorError, match="contradicts an earlier anchor of E1#2"):
        load_signed_anchors(log, verifier)


def _other_key(tmp_path: Path) -> Path:
    result = CliRunner().invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "other")])
    assert result.exit_code == 0, result.output
    return tmp_path / "other" / "ledger-signing.pem"
