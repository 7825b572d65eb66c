"""Red team: a database owner's rewrite of the journal, which only `verify --anchors` names."""

# The database owner rewrites an entry's amount, makes every table agree with it and re-chains every
# later hash and the head. Plain `verify` cannot see it (its chain lives in the same database);
# `verify --anchors`, run by an auditor's read-only login with the public key only, names the entry.
# A forged anchor is refused.

import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg
import pytest
from kafka import KafkaConsumer, TopicPartition

from subsidy.infra.lifecycle import running
from subsidy.infra.signing_keys import KEY_ID_HEADER, SIGNATURE_HEADER, Signer, Verifier
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.anchors import load_signed_anchors
from subsidy.ledger.bootstrap import ledger_relay, ledger_worker
from subsidy.ledger.chain import entry_hash, fields_from_row
from subsidy.ledger.settings import LedgerSettings
from tests.ledger.database import (
    LedgerDb,
    anchored_heads,
    as_role,
    assert_sound,
    fetch,
    worker_settings,
)
from tests.ledger.events import CATALOG, EventMix, evaluation_records
from tests.ledger.topics import Topics, produce, wait_consumed
from tests.support.kafka import client_options

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUBSIDY = Path(sys.executable).parent / "subsidy"
CUT_FEN = 100


async def _fill_and_anchor(bootstrap: str, db: LedgerDb, topics: Topics) -> LedgerSettings:
    """A fed ledger, and the relay run once: it publishes the decisions and anchors the heads."""
    events = EventMix(seed=47, enterprises=6, events_per_enterprise=30).events()
    await produce(bootstrap, topics.input, evaluation_records(events))
    settings = worker_settings(db, bootstrap, topics, batch_size=50)
    async with running(ledger_worker(settings, CATALOG)):
        await wait_consumed(bootstrap, topics.input, settings.group_id)
    await assert_sound(db.url)
    async with running(ledger_relay(settings)):
        pass
    return settings


def _topic_lines(bootstrap: str, topic: str) -> list[bytes]:
    """Every record on the topic (the test's has several partitions; production's one)."""
    consumer = KafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = sum(consumer.end_offsets(partitions).values())
        lines: list[bytes] = []
        while len(lines) < end:
            for records in consumer.poll(timeout_ms=1_000).values():
                lines += [r.value for r in records]
        return lines
    finally:
        consumer.close()


async def _victim(url: str) -> tuple[str, int, str]:
    """A paid entry with entries after it in its chain: (enterprise, seq, entitlement)."""
    rows = await fetch(
        url,
        "SELECT x.enterprise_id, x.seq, x.entitlement_id FROM entries x"
        " JOIN enterprises n USING (enterprise_id)"
        " WHERE x.kind <> 'CLAWBACK' AND x.amount_fen > $1 AND x.seq < n.head_seq - 1"
        " ORDER BY n.head_seq DESC, x.seq LIMIT 1",
        CUT_FEN,
    )
    assert rows, "the mix pays some entry in the middle of a chain"
    return rows[0]["enterprise_id"], rows[0]["seq"], rows[0]["entitlement_id"]


async def _rewrite_and_rechain(db: LedgerDb, enterprise: str, seq: int, entitlement: str) -> None:
    """What a hostile owner does: triggers off, the amount cut, every derived row made to agree,
    the chain recomputed from the entry on and the head moved to the new hash."""
    conn = await asyncpg.connect(db.owner_url)
    try:
        async with conn.transaction():
            for table in ("entries", "decisions"):
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            row = await conn.fetchrow(
                "UPDATE entries SET amount_fen = amount_fen - $3"
                " WHERE enterprise_id = $1 AND seq = $2 RETURNING rule_id, year, item_id",
                enterprise, seq, CUT_FEN,
            )  # fmt: skip
            await conn.execute(
                "UPDATE entitlements SET granted_fen = granted_fen - $2 WHERE entitlement_id = $1",
                entitlement, CUT_FEN,
            )  # fmt: skip
            await conn.execute(
                "UPDATE decisions d SET granted_fen = d.granted_fen - $2 FROM entitlements e"
                " WHERE d.entitlement_id = $1 AND e.entitlement_id = $1"
                " AND d.revision = e.revision",
                entitlement, CUT_FEN,
            )  # fmt: skip
            for table, key in (("annual_usage", "year"), ("item_usage", "item_id")):
                await conn.execute(
                    f"UPDATE {table} SET used_fen = used_fen - $4"
                    f" WHERE enterprise_id = $1 AND rule_id = $2 AND {key} = $3",
                    enterprise, row["rule_id"], row[key], CUT_FEN,
                )  # fmt: skip
            prev = await conn.fetchval(
                "SELECT prev_hash FROM entries WHERE enterprise_id = $1 AND seq = $2",
                enterprise, seq,
            )  # fmt: skip
            later = await conn.fetch(
                "SELECT * FROM entries WHERE enterprise_id = $1 AND seq >= $2 ORDER BY seq",
                enterprise, seq,
            )  # fmt: skip
            for entry in later:
                new_hash = entry_hash(prev, fields_from_row(entry))
                await conn.execute(
                    "UPDATE entries SET prev_hash = $3, hash = $4"
                    " WHERE enterprise_id = $1 AND seq = $2",
                    enterprise, entry["seq"], prev, new_hash,
                )  # fmt: skip
                prev = new_hash
            await conn.execute(
                "UPDATE enterprises SET head_hash = $2 WHERE enterprise_id = $1", enterprise, prev
            )
            for table in ("entries", "decisions"):
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
    finally:
        await conn.close()


async def _auditor_login(db: LedgerDb, auditor_role: str) -> tuple[str, str]:
    """A read-only login in the auditor group: (its name, its URL on this test's schema)."""
    login = "ledger_api"  # made by `subsidy dev up`, a member of subsidy_auditor
    return login, as_role(db.owner_url, login)


async def _verify(url: str, *options: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    process = await asyncio.create_subprocess_exec(
        str(SUBSIDY), "ledger", "verify", *options,
        env={**inherited, **(env or {}), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


@pytest.mark.redteam
async def test_a_rechained_rewrite_is_named_by_the_anchors(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics, auditor_role: str
) -> None:
    settings = await _fill_and_anchor(kafka_bootstrap, ledger_db, ledger_topics)
    assert settings.anchor_file is not None
    assert settings.signing_key_file is not None
    anchors = settings.anchor_file
    public_key = settings.signing_key_file.with_name("ledger-signing.pub.pem")
    # The topic holds the same anchors as the file, line for line.
    lines = anchors.read_bytes().splitlines()
    assert lines
    assert sorted(_topic_lines(kafka_bootstrap, ledger_topics.anchors)) == sorted(lines)
    _, auditor_url = await _auditor_login(ledger_db, auditor_role)
    options = ("--anchors", str(anchors), "--public-key", str(public_key))
    code, output = await _verify(auditor_url, *options)
    assert (code, output.startswith("ok:")) == (0, True), output

    enterprise, seq, entitlement = await _victim(ledger_db.url)
    ledger_db.tampered = True
    await _rewrite_and_rechain(ledger_db, enterprise, seq, entitlement)

    # The old hole: the chain and every invariant agree with the rewrite.
    code, output = await _verify(ledger_db.url)
    assert (code, output.startswith("ok:")) == (0, True), output
    # The anchors were signed outside the database: the rewritten entry is named.
    code, output = await _verify(auditor_url, *options)
    assert code == 1, output
    assert f"第一条不同的分录 {enterprise}#{seq} / chain broken at entry {enterprise}#{seq}:" \
        in output  # fmt: skip
    assert "与签名锚点不符" in output
    assert "differs from the signed anchor" in output
    # The owner also drops the chain's mark, so the relay signs the rewritten entry as it
    # finds it: the log then holds two signed hashes for it, and verify says what that means.
    owner = await asyncpg.connect(ledger_db.owner_url)
    try:
        await owner.execute("DELETE FROM anchor_marks WHERE chain = $1", enterprise)
    finally:
        await owner.close()
    conn = await asyncpg.connect(ledger_db.url)
    try:
        relay = Anchorer(Signer.from_file(settings.signing_key_file), AnchorLog(anchors, None, ""))
        assert await relay.anchor(conn)
    finally:
        await conn.close()
    code, output = await _verify(auditor_url, *options)
    assert code == 1, output
    assert f"两个签名锚点对 {enterprise}#" in output
    assert "it was rewritten between the two anchorings" in output


@pytest.mark.redteam
async def test_a_forged_anchor_is_refused_by_verify(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    settings = await _fill_and_anchor(kafka_bootstrap, ledger_db, ledger_topics)
    assert settings.anchor_file is not None
    assert settings.signing_key_file is not None
    public_key = settings.signing_key_file.with_name("ledger-signing.pub.pem")
    first, *rest = settings.anchor_file.read_bytes().splitlines()
    forged = json.loads(first)
    forged["entryHashes"][0] = "0" * 64
    settings.anchor_file.write_bytes(b"\n".join([json.dumps(forged).encode(), *rest]) + b"\n")
    code, output = await _verify(
        ledger_db.url, "--anchors", str(settings.anchor_file), "--public-key", str(public_key)
    )
    assert code == 1, output
    assert "锚点无效，拒绝采信 (anchor refused)" in output
    assert "line 1: bad signature" in output


async def test_verify_with_the_key_anchors_what_moved_past_the_marks(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    settings = await _fill_and_anchor(kafka_bootstrap, ledger_db, ledger_topics)
    assert settings.anchor_file is not None
    assert settings.signing_key_file is not None
    anchored = settings.anchor_file.read_bytes()
    env = {
        "LEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "LEDGER_ANCHOR_FILE": str(settings.anchor_file),
        "LEDGER_ANCHOR_TOPIC": ledger_topics.anchors,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
    }
    # Nothing moved since the relay's anchors (its marks say so): nothing is signed again.
    code, output = await _verify(ledger_db.url, "--lang", "en", env=env)
    assert (code, output.strip()) == (
        0,
        f"ok: {output.split()[1]} entries verified, invariants hold",
    )
    assert settings.anchor_file.read_bytes() == anchored
    # The position is the marks', not the file's: a fresh file gets nothing either.
    fresh = settings.anchor_file.with_name("fresh.jsonl")
    code, output = await _verify(ledger_db.url, env={**env, "LEDGER_ANCHOR_FILE": str(fresh)})
    assert (code, fresh.exists()) == (0, False), output
    # No marks and an empty file (a ledger anchored before the marks, its file lost): verify
    # anchors every chain from its first entry.
    conn = await asyncpg.connect(ledger_db.owner_url)
    try:
        await conn.execute("DELETE FROM anchor_marks")
    finally:
        await conn.close()
    code, output = await _verify(ledger_db.url, env={**env, "LEDGER_ANCHOR_FILE": str(fresh)})
    assert code == 0, output
    assert output.rstrip().endswith(f"；已锚定 {len(anchored.splitlines())} 个链头")
    assert sorted(json.loads(line)["chain"] for line in fresh.read_bytes().splitlines()) == sorted(
        json.loads(line)["chain"] for line in anchored.splitlines()
    )


async def _until_anchored(path: Path, heads: dict[str, int], within: float = 30.0) -> None:
    """Until the anchor file covers exactly these heads (the relay anchors at its cadence)."""
    for _ in range(int(within / 0.1)):
        if await asyncio.to_thread(anchored_heads, path) == heads:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the relay did not anchor {heads} within {within:.0f}s")


async def test_a_running_relay_anchors_at_its_cadence_and_signs_what_it_publishes(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    events = EventMix(seed=53, enterprises=5, events_per_enterprise=30).events()
    records = evaluation_records(events)
    settings = worker_settings(
        ledger_db, kafka_bootstrap, ledger_topics, batch_size=20, anchor_seconds=0.2,
        relay_poll_seconds=0.1,
    )  # fmt: skip
    assert settings.anchor_file is not None
    assert settings.signing_key_file is not None
    verifier = Verifier.from_file(settings.signing_key_file.with_name("ledger-signing.pub.pem"))
    async with running(ledger_relay(settings)), running(ledger_worker(settings, CATALOG)):
        # In two halves, so the heads move while the relay runs.
        for half in (records[: len(records) // 2], records[len(records) // 2 :]):
            await produce(kafka_bootstrap, ledger_topics.input, half)
            await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
            heads = {
                r["enterprise_id"]: r["head_seq"]
                for r in await fetch(
                    ledger_db.url,
                    "SELECT enterprise_id, head_seq FROM enterprises WHERE head_seq > 0",
                )
            }
            await _until_anchored(settings.anchor_file, heads)
    # Several anchors for one chain, together vouching for every entry, all signed.
    vouched = load_signed_anchors(settings.anchor_file, verifier)
    entries = await fetch(ledger_db.url, "SELECT enterprise_id, seq, hash FROM entries")
    assert {(e["enterprise_id"], e["seq"]): e["hash"] for e in entries} == {
        (chain, seq): h for chain, hashes in vouched.items() for seq, h in hashes.items()
    }
    assert len(settings.anchor_file.read_bytes().splitlines()) > len(vouched)
    # Every decision on the topic carries the ledger's signature over its exact bytes.
    consumer = KafkaConsumer(ledger_topics.decisions, **client_options(kafka_bootstrap),
                             auto_offset_reset="earliest", consumer_timeout_ms=3_000)  # fmt: skip
    try:
        signed = [(dict(r.headers), r.value) for r in consumer]
    finally:
        consumer.close()
    assert signed
    assert all(
        h[KEY_ID_HEADER] == verifier.key_id.encode() and verifier.valid(h[SIGNATURE_HEADER], v)
        for h, v in signed
    )
