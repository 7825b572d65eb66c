"""The ledger service decides corrected streams as `subsidy simulate` does."""

# Any stream with corrections and retractions, in batches of any size, through PostgreSQL as the
# worker's login, ends with simulate's export, sound invariants and verifying chains; and the
# history it keeps replays to where it stands.

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.simulate import simulate
from subsidy.ledger.export import export_contract
from subsidy.ledger.history import read_history
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.domain.ledger.test_corrections import Events, corrected_streams
from tests.ledger.database import as_role, assert_sound, migrated_ledger_schema
from tests.reference.streams import DERANDOMIZE, Stream

pytestmark = pytest.mark.postgres


async def _decide(
    url: str, stream: Stream, sent: Events, batch: int, cached: bool
) -> dict[str, Any]:
    """The stream through apply_batch as the worker runs it; the export."""
    _, owner = await migrated_ledger_schema(url, "corrected")
    worker = as_role(owner, "ledger_worker")
    conn = await asyncpg.connect(worker)
    cache = BookCache(100 if cached else 0)
    messages = []
    for raw in sent:
        event = parse_event(raw)
        messages.append(Message(evaluate(event, stream.catalog), event.content_hash()))
    try:
        for start in range(0, len(messages), batch):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + batch], cache,
                                             stream.catalog)  # fmt: skip
            prepared.committed(cache)
        contract = await export_contract(conn)
        # `policy diff --from-ledger` replays the history as corrected: it ends where the
        # ledger stands, but for what was retracted.
        history = await read_history(conn)
    finally:
        await conn.close()
    await assert_sound(worker)
    replayed = simulate(history.events, stream.catalog).to_contract()["entitlements"]
    standing = [e for e in contract["entitlements"] if e["status"] != "RETRACTED"]
    assert replayed == standing, "\n".join(history.events)
    return contract


@settings(
    max_examples=40,
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)  # fmt: skip
@given(case=corrected_streams(), batch=st.integers(1, 12), cached=st.booleans())
def test_the_service_decides_corrected_streams_as_simulate(
    case: tuple[Stream, Events, Events], batch: int, cached: bool, fresh_database_url: str
) -> None:
    stream, sent, _ = case
    got = asyncio.run(_decide(fresh_database_url, stream, sent, batch, cached))
    want = simulate([json.dumps(e, ensure_ascii=False) for e in sent], stream.catalog)
    expected = want.to_contract()
    shown = "\n".join(json.dumps(e, ensure_ascii=False) for e in sent)
    assert got["entitlements"] == expected["entitlements"], shown
    assert got["parkedEvents"] == expected["parkedEvents"], shown
