"""The notifier end to end: Kafka in, real webhook and SMTP peers out, a restart in the middle."""

# One story in phases, each a function: a first worker stopped mid-flight, a claim stranded by a
# crashed notifier, a second worker taking over; then what the peers received, what the tables hold,
# and the dead endpoint listed, requeued and delivered.

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.infra.lifecycle import running
from subsidy.notifier import repository as repo
from subsidy.notifier.bootstrap import notifier_worker
from subsidy.notifier.delivery import message_id
from subsidy.notifier.settings import NotifierSettings
from tests.notifier.receivers import (
    Hook,
    MailStore,
    WebhookReceiver,
    decision,
    eventually,
)
from tests.notifier.stack import (
    BUREAUS,
    HANG,
    MAIL,
    SECRETS,
    SENDER,
    TIMEOUT,
    A,
    B,
    C,
    Db,
    ledger_keys,
    metric,
    notify_cli,
    publish,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


CATALOG: Catalog = load_catalog()
COUNTERS = ("sent", "retried", "dead")


@dataclass(frozen=True)
class Story:
    """The decisions of the story: A's and B's to deliver, C's to a dead endpoint."""

    d1: dpb.Decision
    d2: dpb.Decision
    d3: dpb.Decision
    d4: dpb.Decision
    d5: dpb.Decision
    d6: dpb.Decision
    dead: list[dpb.Decision]

    @property
    def by_enterprise(self) -> dict[str, list[dpb.Decision]]:
        return {A: [self.d1, self.d2, self.d5], B: [self.d3, self.d4, self.d6]}


@dataclass(frozen=True)
class Stranded:
    """A delivery claimed by a notifier that then crashed, and when its lease ends."""

    id: int
    lease_end: datetime


@pytest.fixture
def story() -> Story:
    c = CATALOG
    return Story(
        d1=decision(c, A, "ev-a1", "m09.first_unit", dpb.PAID, entitled_fen=120_000_000,
                    granted_fen=120_000_000, cash_delta_fen=120_000_000),
        d2=decision(c, A, "ev-a2", "m06.enterprise_title", dpb.REFERRED),
        d3=decision(c, B, "ev-b1", "m05.service_platform", dpb.PENDING_REVIEW),
        d4=decision(c, B, "ev-b2", "m08.compute_voucher", dpb.PARTIALLY_PAID,
                    reasons=(dpb.ANNUAL_CAP,), entitled_fen=250_000_000,
                    granted_fen=123_456_789, cash_delta_fen=123_456_789),
        # The revocation of d1's grant.
        d5=decision(c, A, "ev-a1", "m09.first_unit", dpb.REVOKED, revision=2,
                    entitled_fen=120_000_000, cash_delta_fen=-120_000_000,
                    clawback_fen=120_000_000),
        d6=decision(c, B, "ev-b3", "m03.municipal_key_lab", dpb.DENIED,
                    reasons=(dpb.DUPLICATE_LOWER,), entitled_fen=100_000_000),
        dead=[
            decision(c, C, f"ev-c{n}", "m09.first_unit", dpb.PAID,
                     granted_fen=50_000_000, cash_delta_fen=50_000_000)
            for n in range(1, 7)
        ],
    )  # fmt: skip


@pytest.fixture
async def receiver(story: Story) -> AsyncIterator[WebhookReceiver]:
    """A's endpoint fails d1 twice and is slow once on d2, B's is healthy, C's hangs."""
    peer = WebhookReceiver(
        {
            "a": Hook(SECRETS[A], fail_first={story.d1.decision_id: 2},
                      slow_once={story.d2.decision_id}),
            "b": Hook(SECRETS[B]),
            "c": Hook(SECRETS[C], dead=True),
        },
        hang_seconds=HANG,
    )  # fmt: skip
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def subscribed(db_url: str, receiver: WebhookReceiver, tmp_path: Path) -> None:
    """The subscriptions loaded through the CLI, as an operator loads them."""
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
                        for unit in BUREAUS
                    ],
                ]
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )  # fmt: skip
    loaded = await asyncio.to_thread(notify_cli, db_url, "subscriptions", "load", str(subs_file))
    assert loaded.returncode == 0, loaded.stderr
    assert "8 subscription(s) loaded" in loaded.stdout
    listed = await asyncio.to_thread(
        notify_cli, db_url, "subscriptions", "list", "--format", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert {s["subscriber"] for s in json.loads(listed.stdout)} >= {A, B, C, "市工信局"}


@pytest.fixture
def settings(kafka_bootstrap: str, topic: str, db_url: str, smtp: MailStore) -> NotifierSettings:
    """Short timeouts, leases and backoffs, so that retries and take-overs happen in seconds."""
    return NotifierSettings(  # type: ignore[call-arg]
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
        webhook_secrets={k: [SecretStr(v)] for k, v in SECRETS.items()},
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_sender=SENDER,
        ledger_public_key_file=ledger_keys()[1],
    )


def _webhook_counters() -> dict[str, float]:
    return {name: metric(f"subsidy_notifier_{name}_total", channel="webhook") for name in COUNTERS}


async def _first_worker_stopped_mid_flight(
    settings: NotifierSettings, db: Db, story: Story
) -> None:
    """A first worker, a duplicate on the topic; stopped (as SIGTERM does) while the dead
    endpoint's deliveries are still being retried, so the next worker has work to take over."""
    d1, d2, d3, d4, dead = story.d1, story.d2, story.d3, story.d4, story.dead
    await publish(settings.kafka_bootstrap, settings.topic, [d1, d2, d3, d4, dead[0], dead[1], d1])

    async def d1_webhook_sent() -> bool:
        return bool(await db.rows(
            "SELECT 1 FROM notifier_deliveries WHERE decision_id = $1 AND channel = 'webhook'"
            " AND state = 'sent'",
            d1.decision_id,
        ))  # fmt: skip

    async with running(notifier_worker(settings, CATALOG)):
        await eventually(d1_webhook_sent, what="d1's webhook after two 500s")
    assert (await db.states())["pending"] > 0


async def _strand_a_claim(db_url: str) -> Stranded:
    """A notifier that crashed while holding a claim: its lease has to run out first."""
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
        lease_end = await conn.fetchval(
            "SELECT lease_until FROM notifier_deliveries WHERE id = $1", crashed[0].id
        )
    finally:
        await conn.close()
    return Stranded(crashed[0].id, lease_end)


async def _taken_over(
    settings: NotifierSettings, db: Db, receiver: WebhookReceiver, story: Story
) -> None:
    """With the second worker running: more decisions (d3 again: a duplicate), a healthy
    endpoint served without waiting behind the hanging one, and every delivery final."""
    bootstrap, topic = settings.kafka_bootstrap, settings.topic
    await publish(bootstrap, topic, [story.d5, story.d3, *story.dead[2:]])

    async def dead_endpoint_busy() -> bool:
        rows = await db.rows(
            "SELECT 1 FROM notifier_deliveries WHERE recipient = $1"
            " AND lease_until > now() AND state = 'pending'",
            receiver.url("c"),
        )
        return len(rows) >= 2

    await eventually(dead_endpoint_busy, what="the dead endpoint to hold its slots")
    await publish(bootstrap, topic, [story.d6])

    async def everything_final() -> bool:
        states = await db.states()
        return states["pending"] == 0 and states["sent"] + states["dead"] > 0

    await eventually(everything_final, within=120, what="every delivery to finish")
    for channel, recipient in (("webhook", receiver.url("b")), ("email", MAIL[B])):
        row = await db.delivery(story.d6.decision_id, channel, recipient)
        latency = (row["sent_at"] - row["created_at"]).total_seconds()
        assert row["state"] == "sent"
        assert latency < TIMEOUT, f"{channel} to B waited {latency:.2f}s behind C"


def _webhooks_exactly_once(receiver: WebhookReceiver, story: Story) -> None:
    for path, enterprise in (("a", A), ("b", B)):
        expected = {d.decision_id for d in story.by_enterprise[enterprise]}
        assert receiver.keys(path) == expected
        for key in expected:
            assert receiver.accepted[(path, key)] == 1, (path, key)
    assert all(c.outcome != "bad-signature" for c in receiver.calls)
    assert receiver.calls_for("a", story.d1.decision_id) == ["failed", "failed", "accepted"]
    assert receiver.calls_for("a", story.d2.decision_id) == ["slow", "accepted"]
    assert receiver.keys("c") == set()

    body = receiver.bodies[("b", story.d4.decision_id)]
    assert body["language"] == "en"
    assert "Granted amount: ¥1,234,567.89" in body["text"]
    assert "the rule's annual cap for the enterprise is reached" in body["text"]
    assert receiver.bodies[("a", story.d5.decision_id)]["decision"]["clawbackFen"] == "120000000"


def _mail_exactly_once(smtp: MailStore, story: Story) -> None:
    mails = Counter(
        (rcpt, m["X-Subsidy-Decision-Id"]) for rcpts, m in smtp.messages for rcpt in rcpts
    )
    assert all(n == 1 for n in mails.values()), mails
    for enterprise, decisions in story.by_enterprise.items():
        assert {m["X-Subsidy-Decision-Id"] for m in smtp.to(MAIL[enterprise])} == {
            d.decision_id for d in decisions
        }
    # Bureaus: only REFERRED (d2: 市工信局, 市科技局), PENDING_REVIEW (d3: 市工信局) and the
    # clawback (d5: m09's unit 市工信局).
    bureau_mail = {
        unit: {m["X-Subsidy-Decision-Id"] for m in smtp.to(MAIL[unit])} for unit in BUREAUS
    }
    d2, d3, d5 = story.d2.decision_id, story.d3.decision_id, story.d5.decision_id
    assert bureau_mail == {
        "市工信局": {d2, d3, d5}, "市科技局": {d2}, "市财政局": set(), "市发改委": set(),
        "市商务局": set(),
    }  # fmt: skip
    clawback_mail = next(m for m in smtp.to(MAIL["市工信局"]) if m["X-Subsidy-Decision-Id"] == d5)
    assert str(clawback_mail["Subject"]).startswith("【待办·已撤销】第九条")
    assert "应追回金额：¥1,200,000.00" in clawback_mail.get_content()
    assert clawback_mail["Message-ID"] == message_id(d5, MAIL["市工信局"], SENDER)
    english = smtp.to(MAIL["市科技局"])[0]
    assert str(english["Subject"]).startswith("[Action needed · Referred")


async def _stranded_retried_after_its_lease(db: Db, stranded: Stranded) -> None:
    attempts = await db.rows(
        "SELECT worker, started_at FROM notifier_attempts WHERE delivery_id = $1", stranded.id
    )
    assert all(a["worker"] != "crashed-notifier" for a in attempts)
    final = await db.rows(
        "SELECT state, dead_at, sent_at FROM notifier_deliveries WHERE id = $1", stranded.id
    )
    assert final[0]["state"] in ("sent", "dead")
    # Nothing touched it between the crash (2 s before lease_end) and lease_end.
    stranded_at = stranded.lease_end - timedelta(seconds=2)
    later = [a["started_at"] for a in attempts if a["started_at"] >= stranded_at]
    later += [t for t in (final[0]["dead_at"], final[0]["sent_at"]) if t]
    assert min(later) >= stranded.lease_end


async def _dead_listed(
    db: Db, receiver: WebhookReceiver, story: Story, stranded: Stranded
) -> list[asyncpg.Record]:
    """The dead endpoint's deliveries are dead, and `subsidy notify failed` lists them."""
    dead_rows = await db.rows(
        "SELECT id, decision_id, attempts, last_error FROM notifier_deliveries"
        " WHERE state = 'dead' ORDER BY id"
    )
    assert {r["decision_id"] for r in dead_rows} == {d.decision_id for d in story.dead}
    assert all(r["attempts"] == 3 or r["id"] == stranded.id for r in dead_rows)
    assert any("timed out" in (r["last_error"] or "") for r in dead_rows)

    failed = await asyncio.to_thread(notify_cli, db.url, "failed")
    assert failed.returncode == 0, failed.stderr
    for row in dead_rows:
        assert row["decision_id"] in failed.stdout
    assert receiver.url("c") in failed.stdout
    failed_json = await asyncio.to_thread(notify_cli, db.url, "failed", "--format", "json")
    assert {r["id"] for r in json.loads(failed_json.stdout)} == {r["id"] for r in dead_rows}
    return dead_rows


async def _requeued_and_delivered(
    db: Db, receiver: WebhookReceiver, requeue: asyncpg.Record
) -> None:
    """Once the endpoint is fixed, `subsidy notify retry` requeues one; it is sent once."""
    receiver.hooks["c"].dead = False
    retried = await asyncio.to_thread(notify_cli, db.url, "retry", str(requeue["id"]))
    assert retried.returncode == 0, retried.stderr
    assert f"delivery {requeue['id']} requeued" in retried.stdout
    again = await asyncio.to_thread(notify_cli, db.url, "retry", str(requeue["id"]))
    assert again.returncode == 1  # no longer dead: nothing to requeue
    assert "no dead delivery" in again.stderr

    async def requeued_sent() -> bool:
        rows = await db.rows("SELECT state FROM notifier_deliveries WHERE id = $1", requeue["id"])
        return bool(rows[0]["state"] == "sent")

    await eventually(requeued_sent, what="the requeued delivery")
    assert receiver.keys("c") == {requeue["decision_id"]}
    assert receiver.accepted[("c", requeue["decision_id"])] == 1
    still_dead = await asyncio.to_thread(notify_cli, db.url, "failed", "--format", "json")
    assert requeue["id"] not in {r["id"] for r in json.loads(still_dead.stdout)}


@pytest.mark.usefixtures("subscribed")
async def test_notifier_delivers_each_decision_once_through_retries_restart_and_dead_endpoint(
    settings: NotifierSettings,
    db_url: str,
    receiver: WebhookReceiver,
    smtp: MailStore,
    story: Story,
) -> None:
    db = Db(db_url)
    before = _webhook_counters()
    await _first_worker_stopped_mid_flight(settings, db, story)
    stranded = await _strand_a_claim(db_url)
    async with running(notifier_worker(settings, CATALOG)):
        await _taken_over(settings, db, receiver, story)
        _webhooks_exactly_once(receiver, story)
        _mail_exactly_once(smtp, story)
        # Duplicates planned nothing twice.
        planned = await db.rows("SELECT decision_id FROM notifier_decisions")
        assert len(planned) == 6 + len(story.dead)
        await _stranded_retried_after_its_lease(db, stranded)
        dead_rows = await _dead_listed(db, receiver, story, stranded)
        await _requeued_and_delivered(db, receiver, dead_rows[0])

    after = _webhook_counters()
    assert after["sent"] - before["sent"] >= 7
    assert after["retried"] - before["retried"] >= 3  # d1 twice, d2's timeout, C's
    assert after["dead"] - before["dead"] >= len(story.dead) - 1
    assert metric("subsidy_notifier_delivery_latency_seconds_count", channel="email") > 0
