"""The ledger database in the integration tests."""

# A migrated schema per test, its soundness checks, exports, snapshots and queries, and the settings
# of a worker on it.

import functools
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from subsidy.devstack.db_logins import login_url
from subsidy.harness.databases import create_schema
from subsidy.infra.signing_keys import write_key_pair
from subsidy.ledger.anchors import mark_pages
from subsidy.ledger.audit import check_invariants
from subsidy.ledger.chain import verify_chains
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.ledger.settings import LedgerSettings
from tests.ledger.topics import Topics

# ---- the ledger database -----------------------------------------------------------------


@dataclass
class LedgerDb:
    """One test's ledger: its own schema in the session's fresh database; `url` is the
    worker's login (a member of subsidy_ledger_writer), `owner_url` the migrating owner's,
    which the tamper tests act as (the threat model's hostile owner)."""

    url: str
    schema: str
    owner_url: str
    # Set by a test that breaks the ledger on purpose (the tamper test): skips the checks.
    tampered: bool = False


def as_role(url: str, role: str) -> str:
    """The same server, database and search_path as `role`, one of the logins `subsidy dev
    up` made (subsidy.devstack.db_logins), with its password."""
    return login_url(url, role)


async def migrated_ledger_schema(url: str, prefix: str) -> tuple[str, str]:
    """A new schema in url's database with the ledger's tables: its name and URL."""
    schema, schema_url = await create_schema(url, prefix)
    conn = await asyncpg.connect(schema_url)
    try:
        await migrate_ledger(conn)
    finally:
        await conn.close()
    return schema, schema_url


# Entries booked without an outbox row of their enterprise in their transaction (the same
# booking time): the relay anchors the chains of the enterprises it publishes, so such an
# entry would wait for its sweep (subsidy.ledger.anchoring).
UNANNOUNCED = """
    SELECT x.enterprise_id || '#' || x.seq FROM entries x
    WHERE NOT EXISTS (
        SELECT FROM decisions d JOIN outbox o USING (decision_id)
        WHERE o.enterprise_id = x.enterprise_id AND d.caused_by_event_id = x.caused_by_event_id
          AND d.decided_at = x.booked_at)
    ORDER BY 1 LIMIT 5"""


async def assert_sound(url: str) -> None:
    """The ledger's invariants hold, every enterprise's chain verifies, and every entry came
    with an outbox row of its enterprise."""
    conn = await asyncpg.connect(url)
    try:
        violations = await check_invariants(conn)
        chain = await verify_chains(conn)
        unannounced = [r[0] for r in await conn.fetch(UNANNOUNCED)]
    finally:
        await conn.close()
    assert violations == []
    assert chain.ok, f"chain broken at {chain.first_broken_entry}: {chain.detail}"
    assert unannounced == [], "entries booked without an outbox row of their enterprise"


async def export(url: str) -> dict[str, Any]:
    """`subsidy ledger export` of this test's ledger, as a dict."""
    conn = await asyncpg.connect(url)
    try:
        return await export_contract(conn)
    finally:
        await conn.close()


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run one query on its own connection."""
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


# ---- workers -----------------------------------------------------------------------------


@functools.cache
def signing_keys() -> tuple[Path, Path]:
    """The session's ledger key pair (private, public), in a directory of its own."""
    return write_key_pair(Path(tempfile.mkdtemp(prefix="subsidy-test-keys-")))


def anchored_heads(path: Path) -> dict[str, int]:
    """The highest anchored seq of each chain in an anchor log, every chain at once (the relay
    reads the file a page at a time, and only to seed its marks)."""
    return {chain: seq for page in mark_pages(path, 2**62) for chain, seq in page.items()}


def worker_settings(
    db: LedgerDb, bootstrap: str, topics: Topics, **overrides: Any
) -> LedgerSettings:
    """Settings of a worker (or relay) on this test's schema and topics; the relay signs with
    the session's key and anchors into a file of its own and the test's anchors topic."""
    values: dict[str, Any] = {
        "signing_key_file": signing_keys()[0],
        "anchor_file": Path(tempfile.mkdtemp(prefix="subsidy-test-anchors-")) / "anchors.jsonl",
        "anchor_topic": topics.anchors,
        "database_url": db.url,
        "kafka_bootstrap": bootstrap,
        "input_topic": topics.input,
        "decisions_topic": topics.decisions,
        "appeals_topic": topics.appeals,
        "dead_letter_topic": topics.dead_letters,
        "group_id": f"test-ledger-{uuid.uuid4().hex[:12]}",
        "batch_wait_ms": 100,
    }
    values.update(overrides)
    return LedgerSettings(**values)


async def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every ledger table's rows, sorted: two snapshots are equal iff nothing changed."""
    tables = [
        "enterprises",
        "inbox",
        "entitlements",
        "decisions",
        "entries",
        "annual_usage",
        "item_usage",
        "other_support",
        "rejected_events",
        "outbox",
        "payee_accounts",
        "objections",
    ]
    conn = await asyncpg.connect(url)
    try:
        return {
            t: sorted((tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {t}")), key=repr)
            for t in tables
        }
    finally:
        await conn.close()
