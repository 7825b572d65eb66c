"""The fed ledger the query API tests share."""

# Known events decided into a schema of its own, a read-only login, the API serving it, and what
# `subsidy simulate` makes of the same events.

import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.infra.auth import token_digest
from subsidy.infra.grpc_errors import field_violations
from subsidy.ledger.api_server import RunningApi
from subsidy.ledger.api_settings import LedgerApiSettings
from subsidy.ledger.metrics import API_REGISTRY
from subsidy.ledger.processor import Message, apply_batch
from subsidy.ledger.repository import BookCache
from tests.factories import enterprise_id
from tests.ledger.events import CATALOG, YUAN, EventMix
from tests.support.grpc_tls import GrpcTls

SUBSIDY = Path(sys.executable).parent / "subsidy"
AUDITOR_TOKEN = "auditor-" + uuid.uuid4().hex
WRITER_TOKEN = "writer-" + uuid.uuid4().hex
AUDITOR = (("authorization", f"Bearer {AUDITOR_TOKEN}"),)
AUDITOR_PRINCIPAL = "auditor-li"


def auditors(*tokens: str) -> str:
    """LEDGER_API_AUDITOR_TOKENS: one auditor principal with these tokens."""
    return json.dumps({AUDITOR_PRINCIPAL: {"tokens": list(tokens)}})


MAX_PAGE = 50

TOP_UP = enterprise_id(900_001)  # municipal key lab, then provincial on the same lab
REVOKED = enterprise_id(900_002)  # a training base paid, then revoked
STRANGER = enterprise_id(900_003)  # never seen by the ledger
MUNICIPAL = "api-topup-1/m03.municipal_key_lab"
PROVINCIAL = "api-topup-2/m03.provincial_key_lab"


def violated_fields(err: grpc.RpcError) -> list[str]:
    """The fields named by the error's google.rpc.BadRequest."""
    return [field for field, _ in field_violations(err)]


def feed_event(event_id: str, enterprise: str, district: str, day: str, **payload: Any) -> Any:
    """One event of the fed ledger, with the fields every event has."""
    return {"eventId": event_id, "source": "sz-miit-portal", "enterpriseId": enterprise,
            "enterpriseName": f"苏州{event_id}机器人有限公司", "district": district,
            "occurredOn": day, **payload}  # fmt: skip


def known_events() -> list[dict[str, Any]]:
    """A top-up, a revocation, then a seeded mix that reaches every status and limit."""
    lab = {"itemId": "lab-X", "certificateId": "C-1"}
    return [
        feed_event("api-topup-1", TOP_UP, "SIP", "2025-07-01",
               certificationObtained={"kind": "MUNICIPAL_KEY_LAB", **lab}),
        feed_event("api-rev-1", REVOKED, "KUNSHAN", "2025-08-01",
               certificationObtained={"kind": "TRAINING_BASE", "itemId": "base-1",
                                      "certificateId": "T-1"}),
        feed_event("api-topup-2", TOP_UP, "SIP", "2025-09-01",
               certificationObtained={"kind": "PROVINCIAL_KEY_LAB", **lab, "certificateId": "C-2"}),
        feed_event("api-topup-3", TOP_UP, "SIP", "2026-03-01",
               computeInvoiceFiled={"itemId": "INV-1", "amountFen": 1_000_000 * YUAN}),
        feed_event("api-rev-2", REVOKED, "KUNSHAN", "2025-10-01",
               certificationRevoked={"itemId": "base-1", "reason": "撤销认定"}),
        *EventMix(seed=41, enterprises=12, events_per_enterprise=30).events(),
    ]  # fmt: skip


async def feed(url: str, events: list[dict[str, Any]], batch: int = 40) -> None:
    """Decide the events into the ledger as the worker does (batches, one transaction each),
    without Kafka: the repository directly."""
    messages = []
    for raw in events:
        event = parse_event(raw)
        messages.append(Message(evaluate(event, CATALOG), event.content_hash()))
    cache = BookCache(10_000)
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, len(messages), batch):
            async with conn.transaction():
                prepared = await apply_batch(conn, messages[start : start + batch], cache)
            prepared.committed(cache)
    finally:
        await conn.close()


def api_settings(url: str, tls: GrpcTls, **overrides: Any) -> LedgerApiSettings:
    """The API's settings on `url`: both auditor tokens, a writer's digest, small pages, and
    the tests' TLS certificate."""
    values: dict[str, Any] = {
        **tls.env(),
        "LEDGER_API_DATABASE_URL": url,
        "LEDGER_API_GRPC_ADDRESS": "127.0.0.1:0",
        "LEDGER_API_AUDITOR_TOKENS": auditors(AUDITOR_TOKEN, f"second-{AUDITOR_TOKEN}"),
        "LEDGER_API_WRITER_TOKEN_SHA256": token_digest(WRITER_TOKEN),
        "LEDGER_API_MAX_PAGE_SIZE": MAX_PAGE,
        "LEDGER_API_DEFAULT_PAGE_SIZE": 20,
        "LEDGER_API_OUTBOX_POLL_SECONDS": 0.1,
        "LEDGER_API_VERIFY_INTERVAL_SECONDS": 0,
    }
    values.update(overrides)
    # model_validate, not the constructor: the environment of whoever runs the tests stays out.
    return LedgerApiSettings.model_validate(values)


@dataclass
class Ledger:
    """The fed ledger, the API serving it as a read-only role (over TLS), and what was fed."""

    owner_url: str
    reader_url: str
    api: RunningApi
    address: str
    events: list[dict[str, Any]]
    contract: dict[str, Any]  # `subsidy simulate --format json` of the same events
    tls: GrpcTls


def api_sample(name: str, **labels: str) -> float:
    """A sample of the query API's registry (0 before its first increment)."""
    return API_REGISTRY.get_sample_value(name, labels) or 0.0
