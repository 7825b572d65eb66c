"""What the notifier's end-to-end tests share."""

# Their topic, schema and SMTP server, the subscribers and their secrets, the `subsidy notify`
# command, and queries of the tables.

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.infra.signing_keys import Signer, write_key_pair
from subsidy.ledger.relay import signed_headers
from subsidy.notifier.metrics import REGISTRY
from subsidy.notifier.signing import new_secret
from tests.factories import enterprise_id
from tests.support.kafka import client_options

PARTITIONS = 3
TIMEOUT = 1.0  # per attempt
HANG = 3.0  # how long a hanging endpoint takes: longer than the timeout
SENDER = "notifier@subsidy.example.cn"
SUBSIDY = str(Path(sys.executable).parent / "subsidy")

A, B, C = enterprise_id(901), enterprise_id(902), enterprise_id(903)
# Standard Webhooks secrets (whsec_<base64>), fresh each run.
SECRETS = {A: new_secret(), B: new_secret(), C: new_secret()}
BUREAUS = ("市工信局", "市科技局", "市财政局", "市发改委", "市商务局")
MAIL = {
    A: "ops@alpha.example.cn",
    B: "ops@beta.example.cn",
    "市工信局": "gx@sz.example.cn",
    "市科技局": "kj@sz.example.cn",
    "市财政局": "cz@sz.example.cn",
    "市发改委": "fg@sz.example.cn",
    "市商务局": "sw@sz.example.cn",
}


@functools.cache
def ledger_keys() -> tuple[Path, Path]:
    """The ledger's key pair of this session (private, public): the relay's stand-in signs the
    decisions `publish` puts on the topic, the notifier checks them with the public key."""
    return write_key_pair(Path(tempfile.mkdtemp(prefix="subsidy-test-ledger-keys-")))


def ledger_signer() -> Signer:
    return Signer.from_file(ledger_keys()[0])


def notify_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `subsidy notify …` command, as an operator runs it."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "NOTIFIER_WEBHOOK_SECRETS": json.dumps(SECRETS),
        "COLUMNS": "400",  # rich wraps to the terminal; keep each row on one line
    }
    return subprocess.run(
        [SUBSIDY, "notify", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def publish(
    bootstrap: str,
    topic: str,
    decisions: list[dpb.Decision],
    headers: list[list[tuple[str, bytes]]] | None = None,
) -> None:
    """Put the decisions on the topic as the ledger's relay does: keyed by enterprise, signed
    with the session's ledger key (or with the `headers` given, one list per decision)."""
    producer = AIOKafkaProducer(**client_options(bootstrap), acks="all")
    await producer.start()
    try:
        for n, d in enumerate(decisions):
            value = d.SerializeToString()
            await producer.send_and_wait(
                topic, key=d.enterprise_id.encode(), value=value,
                headers=headers[n] if headers else signed_headers(ledger_signer(), value),
            )  # fmt: skip
    finally:
        await producer.stop()


def metric(name: str, **labels: str) -> float:
    """A sample of the notifier's registry (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Db:
    """Queries the tests make against the notifier's tables."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows
        finally:
            await conn.close()

    async def states(self) -> Counter[str]:
        rows = await self.rows("SELECT state, count(*) AS n FROM notifier_deliveries GROUP BY 1")
        return Counter({r["state"]: r["n"] for r in rows})

    async def delivery(self, decision_id: str, channel: str, recipient: str) -> asyncpg.Record:
        rows = await self.rows(
            "SELECT * FROM notifier_deliveries"
            " WHERE decision_id = $1 AND channel = $2 AND recipient = $3",
            decision_id,
            channel,
            recipient,
        )
        assert len(rows) == 1, (decision_id, channel, recipient)
        return rows[0]
