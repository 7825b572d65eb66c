"""The notifier end to end: Kafka in, real webhook and SMTP peers out, a restart in the middle."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.harness.databases import create_schema, drop_schema
from subsidy.notifier import repository as repo
from subsidy.notifier.delivery import message_id
from subsidy.notifier.metrics import REGISTRY
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.worker import run_worker
from tests.integration.kafka_support import private_topics
from tests.integration.notifier_support import (
    NOTIFIER_SCHEMA,
    Hook,
    MailStore,
    WebhookReceiver,
    decision,
    eventually,
    start_smtp,
)
from tests.unit.factories import enterprise_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PARTITIONS = 3
TIMEOUT = 1.0  # per attempt
HANG = 3.0  # how long a hanging endpoint takes: longer than the timeout
SENDER = "notifier@subsidy.example.cn"
SUBSIDY = str(Path(sys.executable).parent / "subsidy")

A, B, C = enterprise_id(901), enterprise_id(902), enterprise_id(903)
SECRETS = {
    A: "whsec-a-0123456789abcdef",
    B: "whsec-b-0123456789abcdef",
    C: "whsec-c-0123456789abcdef",
}
MAIL = {
    A: "ops@alpha.example.cn",
    B: "ops@beta.example.cn",
    "市工信局": "gx@sz.example.cn",
    "市科技局": "kj@sz.example.cn",
    "市财政局": "cz@sz.example.cn",
    "市发改委": "fg@sz.example.cn",
    "市商务局": "sw@sz.example.cn",
}


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    """A decisions topic for this test only."""
    name = f"test.notifier.decisions.{uuid.uuid4().hex[:12]}"
    with private_topics(kafka_bootstrap, {name: PARTITIONS}):
        yield name


@pytest.fixture
async def db_url(fresh_database_url: str) -> AsyncIterator[str]:
    """The session's fresh database, in a schema of this test's own."""
    schema, url = await create_schema(fresh_database_url, NOTIFIER_SCHEMA)
    yield url
    await drop_schema(fresh_database_url, schema)


@pytest.fixture
def smtp() -> Iterator[MailStore]:
    controller, store = start_smtp()
    try:
        yield store
    finally:
        controller.stop()


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
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


async def _publish(bootstrap: str, topic: str, decisions: list[dpb.Decision]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for d in decisions:
            await producer.send_and_wait(
                topic, key=d.enterprise_id.encode(), value=d.SerializeToString()
            )
    finally:
        await producer.stop()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Db:
    """Queries the test makes against the notifier's tables."""

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


async def test_notifier_delivers_each_decision_once_through_retries_restart_and_dead_endpoint(
    kafka_bootstrap: str, topic: str, db_url: str, smtp: MailStore, tmp_path: Path
) -> None:
    catalog: Catalog = load_catalog()
    db = Db(db_url)

    # -- decisions ------------------------------------------------------------------------
    d1 = decision(
        catalog,
        A,
        "ev-a1",
        "m09.first_unit",
        dpb.PAID,
        entitled_fen=120_000_000,
        granted_fen=120_000_000,
        cash_delta_fen=120_000_000,
    )
    d2 = decision(catalog, A, "ev-a2", "m06.enterprise_title", dpb.REFERRED)
    d3 = decision(catalog, B, "ev-b1", "m05.service_platform", dpb.PENDING_REVIEW)
    d4 = decision(
        catalog,
        B,
        "ev-b2",
        "m08.compute_voucher",
        dpb.PARTIALLY_PAID,
        reasons=(dpb.ANNUAL_CAP,),
        entitled_fen=250_000_000,
        granted_fen=123_456_789,
        cash_delta_fen=123_456_789,
    )
    d5 = decision(
        catalog,
        A,
        "ev-a1",
        "m09.first_unit",
        dpb.REVOKED,
        revision=2,
        entitled_fen=120_000_000,
        cash_delta_fen=-120_000_000,
        clawback_fen=120_000_000,
    )  # the revocation of d1's grant
    d6 = decision(
        catalog,
        B,
        "ev-b3",
        "m03.municipal_key_lab",
        dpb.DENIED,
        reasons=(dpb.DUPLICATE_LOWER,),
        entitled_fen=100_000_000,
    )
    dead = [
        decision(catalog, C, f"ev-c{n}", "m09.first_unit", dpb.PAID,
                 granted_fen=50_000_000, cash_delta_fen=50_000_000)
        for n in range(1, 7)
    ]  # fmt: skip
    enterprise_decisions = {A: [d1, d2, d5], B: [d3, d4, d6]}

    # -- peers ----------------------------------------------------------------------------
    receiver = WebhookReceiver(
        {
            "a": Hook(SECRETS[A].encode(), fail_first={d1.decision_id: 2},
                      slow_once={d2.decision_id}),
            "b": Hook(SECRETS[B].encode()),
            "c": Hook(SECRETS[C].encode(), dead=True),
        },
        hang_seconds=HANG,
    )  # fmt: skip
    await receiver.start()
    try:
        # -- subscriptions through the CLI, as an operator loads them ----------------------
        subs_file = tmp_path / "subscriptions.yaml"
        subs_file.write_text(
            json.dumps(
                {
                    "subscriptions": [
                        {"enterpriseId": A, "webhookUrl": receiver.url("a"), "email": MAIL[A]},
                        {"enterpriseId": B, "webhookUrl": receiver.url("b"), "email": MAIL[B],
                         "language": "en"},
                        {"enterpriseId": C, "webhookUrl": receiver.url("c")},
                        *[
                            {"bureau": unit, "email": MAIL[unit],
                             "language": "en" if unit == "市科技局" else "zh"}
                            for unit in ("市工信局", "市科技局", "市财政局", "市发改委", "市商务局")
                        ],
                    ]
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )  # fmt: skip
        loaded = await asyncio.to_thread(_cli, db_url, "subscriptions", "load", str(subs_file))
        assert loaded.returncode == 0, loaded.stderr
        assert "8 subscription(s) loaded" in loaded.stdout
        listed = await asyncio.to_thread(_cli, db_url, "subscriptions", "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        assert {s["subscriber"] for s in json.loads(listed.stdout)} >= {A, B, C, "市工信局"}

        settings = NotifierSettings(  # type: ignore[call-arg]
            kafka_bootstrap=kafka_bootstrap,
            database_url=db_url,
            topic=topic,
            group_id=f"test-notifier-{uuid.uuid4().hex[:12]}",
            max_attempts=3,
            backoff_base_seconds=0.1,
            backoff_cap_seconds=0.4,
            attempt_timeout_seconds=TIMEOUT,
            lease_seconds=4.0,
            concurrency=4,
            endpoint_concurrency=2,
            poll_seconds=0.2,
            shutdown_grace_seconds=5.0,
            webhook_secrets={k: SecretStr(v) for k, v in SECRETS.items()},
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_sender=SENDER,
        )
        before = {
            name: _metric(f"subsidy_notifier_{name}_total", channel="webhook")
            for name in ("sent", "retried", "dead")
        }

        # -- phase 1: first worker, a duplicate on the topic --------------------------------
        await _publish(kafka_bootstrap, topic, [d1, d2, d3, d4, dead[0], dead[1], d1])
        stop1 = asyncio.Event()
        worker1 = asyncio.create_task(run_worker(settings, stop1, catalog=catalog))

        async def d1_webhook_sent() -> bool:
            rows = await db.rows(
                "SELECT 1 FROM notifier_deliveries WHERE decision_id = $1 AND channel = 'webhook'"
                " AND state = 'sent'",
                d1.decision_id,
            )
            return bool(rows)

        await eventually(d1_webhook_sent, what="d1's webhook after two 500s")
        # Stop it mid-flight (SIGTERM does the same): the dead endpoint's deliveries are
        # still being retried, so the next worker has work to take over.
        stop1.set()
        await asyncio.wait_for(worker1, timeout=30)
        assert (await db.states())["pending"] > 0

        # A notifier that crashed while holding a claim: its lease has to run out first.
        conn = await asyncpg.connect(db_url)
        try:
            crashed: list[repo.Claimed] = []

            async def crashed_claim() -> bool:
                crashed.extend(
                    await repo.claim(conn, worker="crashed-notifier", limit=1, room={},
                                     endpoint_limit=10, lease_seconds=2.0, max_attempts=3)
                )  # fmt: skip
                return bool(crashed)

            await eventually(crashed_claim, what="a due delivery to strand")
            stranded = crashed[0].id
            lease_end = await conn.fetchval(
                "SELECT lease_until FROM notifier_deliveries WHERE id = $1", stranded
            )
        finally:
            await conn.close()

        # -- phase 2: a new worker takes over ----------------------------------------------
        stop2 = asyncio.Event()
        worker2 = asyncio.create_task(run_worker(settings, stop2, catalog=catalog))
        try:
            await _publish(kafka_bootstrap, topic, [d5, d3, *dead[2:]])  # d3 again: duplicate

            async def dead_endpoint_busy() -> bool:
                rows = await db.rows(
                    "SELECT 1 FROM notifier_deliveries WHERE recipient = $1"
                    " AND lease_until > now() AND state = 'pending'",
                    receiver.url("c"),
                )
                return len(rows) >= 2

            await eventually(dead_endpoint_busy, what="the dead endpoint to hold its slots")
            # While the dead endpoint hangs, a healthy one is served without waiting.
            await _publish(kafka_bootstrap, topic, [d6])

            async def everything_final() -> bool:
                states = await db.states()
                return states["pending"] == 0 and states["sent"] + states["dead"] > 0

            await eventually(everything_final, within=120, what="every delivery to finish")

            for channel, recipient in (("webhook", receiver.url("b")), ("email", MAIL[B])):
                row = await db.delivery(d6.decision_id, channel, recipient)
                latency = (row["sent_at"] - row["created_at"]).total_seconds()
                assert row["state"] == "sent"
                assert latency < TIMEOUT, f"{channel} to B waited {latency:.2f}s behind C"

            # -- exactly once per decision per channel at the receivers ---------------------
            for path, enterprise in (("a", A), ("b", B)):
                expected = {d.decision_id for d in enterprise_decisions[enterprise]}
                assert receiver.keys(path) == expected
                for key in expected:
                    assert receiver.accepted[(path, key)] == 1, (path, key)
            assert all(c.outcome != "bad-signature" for c in receiver.calls)
            assert receiver.calls_for("a", d1.decision_id) == ["failed", "failed", "accepted"]
            assert receiver.calls_for("a", d2.decision_id) == ["slow", "accepted"]
            assert receiver.keys("c") == set()

            body = receiver.bodies[("b", d4.decision_id)]
            assert body["language"] == "en"
            assert "Granted amount: ¥1,234,567.89" in body["text"]
            assert "the rule's annual cap for the enterprise is reached" in body["text"]
            assert receiver.bodies[("a", d5.decision_id)]["decision"]["clawbackFen"] == "120000000"

            mails = Counter(
                (rcpt, m["X-Subsidy-Decision-Id"]) for rcpts, m in smtp.messages for rcpt in rcpts
            )
            assert all(n == 1 for n in mails.values()), mails
            for enterprise, decisions in enterprise_decisions.items():
                assert {m["X-Subsidy-Decision-Id"] for m in smtp.to(MAIL[enterprise])} == {
                    d.decision_id for d in decisions
                }
            # Bureaus: only REFERRED (d2: 市工信局, 市科技局), PENDING_REVIEW (d3: 市工信局)
            # and the clawback (d5: m09's unit 市工信局).
            bureau_mail = {
                unit: {m["X-Subsidy-Decision-Id"] for m in smtp.to(MAIL[unit])}
                for unit in ("市工信局", "市科技局", "市财政局", "市发改委", "市商务局")
            }
            assert bureau_mail == {
                "市工信局": {d2.decision_id, d3.decision_id, d5.decision_id},
                "市科技局": {d2.decision_id},
                "市财政局": set(),
                "市发改委": set(),
                "市商务局": set(),
            }
            clawback = smtp.to(MAIL["市工信局"])
            clawback_mail = next(
                m for m in clawback if m["X-Subsidy-Decision-Id"] == d5.decision_id
            )
            assert str(clawback_mail["Subject"]).startswith("【待办·已撤销】第九条")
            text = clawback_mail.get_content()
            assert "应追回金额：¥1,200,000.00" in text
            assert clawback_mail["Message-ID"] == message_id(
                d5.decision_id, MAIL["市工信局"], SENDER
            )
            english = smtp.to(MAIL["市科技局"])[0]
            assert str(english["Subject"]).startswith("[Action needed · Referred")

            # -- duplicates planned nothing twice -------------------------------------------
            planned = await db.rows("SELECT decision_id FROM notifier_decisions")
            assert len(planned) == 6 + len(dead)

            # -- the stranded claim was retried only after its lease ran out -----------------
            attempts = await db.rows(
                "SELECT worker, started_at FROM notifier_attempts WHERE delivery_id = $1",
                stranded,
            )
            assert all(a["worker"] != "crashed-notifier" for a in attempts)
            final = await db.rows(
                "SELECT state, dead_at, sent_at FROM notifier_deliveries WHERE id = $1", stranded
            )
            assert final[0]["state"] in ("sent", "dead")
            # Nothing touched it between the crash (2 s before lease_end) and lease_end.
            stranded_at = lease_end - timedelta(seconds=2)
            later = [a["started_at"] for a in attempts if a["started_at"] >= stranded_at]
            later += [t for t in (final[0]["dead_at"], final[0]["sent_at"]) if t]
            assert min(later) >= lease_end

            # -- the dead endpoint: dead, listed, requeued, delivered once it recovers -------
            dead_rows = await db.rows(
                "SELECT id, decision_id, attempts, last_error FROM notifier_deliveries"
                " WHERE state = 'dead' ORDER BY id"
            )
            assert {r["decision_id"] for r in dead_rows} == {d.decision_id for d in dead}
            assert all(r["attempts"] == 3 or r["id"] == stranded for r in dead_rows)
            assert any("timed out" in (r["last_error"] or "") for r in dead_rows)

            failed = await asyncio.to_thread(_cli, db_url, "failed")
            assert failed.returncode == 0, failed.stderr
            for row in dead_rows:
                assert row["decision_id"] in failed.stdout
            assert receiver.url("c") in failed.stdout
            failed_json = await asyncio.to_thread(_cli, db_url, "failed", "--format", "json")
            assert {r["id"] for r in json.loads(failed_json.stdout)} == {r["id"] for r in dead_rows}

            receiver.hooks["c"].dead = False  # the endpoint is fixed
            requeue = dead_rows[0]
            retried = await asyncio.to_thread(_cli, db_url, "retry", str(requeue["id"]))
            assert retried.returncode == 0, retried.stderr
            assert f"delivery {requeue['id']} requeued" in retried.stdout
            again = await asyncio.to_thread(_cli, db_url, "retry", str(requeue["id"]))
            assert again.returncode == 1  # no longer dead: nothing to requeue
            assert "no dead delivery" in again.stderr

            async def requeued_sent() -> bool:
                rows = await db.rows(
                    "SELECT state FROM notifier_deliveries WHERE id = $1", requeue["id"]
                )
                return bool(rows[0]["state"] == "sent")

            await eventually(requeued_sent, what="the requeued delivery")
            assert receiver.keys("c") == {requeue["decision_id"]}
            assert receiver.accepted[("c", requeue["decision_id"])] == 1
            still_dead = await asyncio.to_thread(_cli, db_url, "failed", "--format", "json")
            assert requeue["id"] not in {r["id"] for r in json.loads(still_dead.stdout)}
        finally:
            stop2.set()
            await asyncio.wait_for(worker2, timeout=30)

        # -- metrics --------------------------------------------------------------------------
        after = {
            name: _metric(f"subsidy_notifier_{name}_total", channel="webhook")
            for name in ("sent", "retried", "dead")
        }
        assert after["sent"] - before["sent"] >= 7
        assert after["retried"] - before["retried"] >= 3  # d1 twice, d2's timeout, C's
        assert after["dead"] - before["dead"] >= len(dead) - 1
        assert _metric("subsidy_notifier_delivery_latency_seconds_count", channel="email") > 0
    finally:
        await receiver.stop()


async def test_worker_command_delivers_and_stops_on_sigterm(
    kafka_bootstrap: str, topic: str, db_url: str, smtp: MailStore, tmp_path: Path
) -> None:
    """`subsidy notify worker` as a process: configured from the environment, it delivers, and
    SIGTERM stops it cleanly (exit 0)."""
    catalog = load_catalog()
    subs_file = tmp_path / "subscriptions.yaml"
    subs_file.write_text(f"- enterpriseId: {A}\n  email: {MAIL[A]}\n", encoding="utf-8")
    loaded = await asyncio.to_thread(_cli, db_url, "subscriptions", "load", str(subs_file))
    assert loaded.returncode == 0, loaded.stderr
    paid = decision(catalog, A, "ev-proc-1", "m12.training_base", dpb.PAID,
                    granted_fen=100_000_000, cash_delta_fen=100_000_000)  # fmt: skip
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NOTIFIER_TOPIC": topic,
        "NOTIFIER_GROUP_ID": f"test-notifier-proc-{uuid.uuid4().hex[:12]}",
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp.port),
        "NOTIFIER_SMTP_SENDER": SENDER,
        "NOTIFIER_POLL_SECONDS": "0.2",
    }
    log = (tmp_path / "worker.log").open("w")
    process = await asyncio.create_subprocess_exec(
        SUBSIDY, "notify", "worker", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        await _publish(kafka_bootstrap, topic, [paid])

        async def mailed() -> bool:
            return bool(smtp.to(MAIL[A]))

        await eventually(mailed, what="the worker process to send the mail")
        message = smtp.to(MAIL[A])[0]
        assert message["X-Subsidy-Decision-Id"] == paid.decision_id
        assert "核定支持金额：¥1,000,000.00" in message.get_content()
        assert "第十二条 加强产业人才支撑 · 人才公共实训基地" in message.get_content()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()
