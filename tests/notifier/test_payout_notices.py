"""Payout notices end to end."""

# Rows in the payouts' outbox written as the database owner, the notifier worker as its own login, a
# signature-checking webhook receiver and an SMTP server.
#
# One story in phases: a first worker tells enterprises of money paid and returned and bureaus of
# their budgets (SENT tells nobody, nor does a notice for someone not subscribed); a restarted
# worker reads only what is new; two notifiers side by side send each message once.

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from subsidy.domain.catalog import load_catalog
from subsidy.domain.payouts.orders import PayoutNotice
from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.infra.lifecycle import running
from subsidy.notifier.bootstrap import notifier_worker
from subsidy.notifier.settings import NotifierSettings
from tests.ledger.database import as_role
from tests.notifier.receivers import NOTIFIER_SCHEMA, Hook, MailStore, WebhookReceiver, eventually
from tests.notifier.stack import (
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
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CATALOG = load_catalog()
KINDS = ("SENT", "PAID", "RETURNED", "BUDGET_ALERT")
SIP = "苏州工业园区财政局"
SIP_MAIL = "czj@sip.example.cn"
NAMES = {
    A: "苏州灵犀具身智能有限公司",
    B: "Beta Robotics (Suzhou) Co., Ltd.",
    C: "苏州未订阅有限公司",
}
AT = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)  # 16:00 in Beijing


def _order(
    kind: str, who: str, n: int, fen: int, reason: str = "", channel: str = "市科技局"
) -> PayoutNotice:
    order, batch = f"PO{who[-4:]}{n:016d}", f"B-{channel}-20250701"
    return PayoutNotice(f"{kind.lower()}:{order}:{batch}", kind, channel, 2025, fen, who,
                        NAMES[who], order, batch, reason)  # fmt: skip


def _alert(channel: str, threshold: int, used_fen: int, envelope_fen: int) -> PayoutNotice:
    return PayoutNotice(f"alert:{channel}:2025:{threshold}", "BUDGET_ALERT", channel, 2025,
                        used_fen, reason=f"{threshold}% of {envelope_fen}")  # fmt: skip


SENT = _order("SENT", A, 1, 123_456_789)
PAID = _order("PAID", A, 1, 123_456_789)
RETURNED = _order("RETURNED", A, 2, 250_000_000, "账户已销户", SIP)
PAID_B = _order("PAID", B, 3, 50_000)
UNSUBSCRIBED = _order("PAID", C, 4, 70_000)
WARNING = _alert("市科技局", 80, 812_345_678, 1_000_000_000)
FULL = _alert(SIP, 100, 499_000_000, 500_000_000)
UNHEARD_ALERT = _alert("市工信局", 80, 80, 100)
FIRST = [SENT, PAID, RETURNED, PAID_B, UNSUBSCRIBED, WARNING, FULL, UNHEARD_ALERT]


@dataclass(frozen=True)
class Urls:
    """The test's schema, every component migrated: as its owner and as the notifier."""

    owner: str
    notifier: str


@pytest.fixture
async def urls(fresh_database_url: str) -> AsyncIterator[Urls]:
    schema, url = await create_schema(fresh_database_url, NOTIFIER_SCHEMA)
    await migrate_platform(url)
    yield Urls(url, as_role(url, "notifier_worker"))
    await drop_schema(fresh_database_url, schema)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    peer = WebhookReceiver({"a": Hook(SECRETS[A]), "b": Hook(SECRETS[B])}, hang_seconds=HANG)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def subscribed(urls: Urls, receiver: WebhookReceiver, tmp_path: Path) -> None:
    """A by webhook and mail (zh), B by webhook (en), 市科技局 and 园区财政局 by mail; C not."""
    subs = [
        {"enterpriseId": A, "webhookUrl": receiver.url("a"), "email": MAIL[A]},
        {"enterpriseId": B, "webhookUrl": receiver.url("b"), "language": "en"},
        {"bureau": "市科技局", "email": MAIL["市科技局"]},
        {"bureau": SIP, "email": SIP_MAIL, "language": "en"},
    ]
    subs_file = tmp_path / "subscriptions.json"
    subs_file.write_text(json.dumps(subs, ensure_ascii=False), encoding="utf-8")
    loaded = await asyncio.to_thread(
        notify_cli, urls.notifier, "subscriptions", "load", str(subs_file)
    )
    assert loaded.returncode == 0, loaded.stderr


@pytest.fixture
def settings(kafka_bootstrap: str, topic: str, urls: Urls, smtp: MailStore) -> NotifierSettings:
    return NotifierSettings(  # type: ignore[call-arg]
        kafka_bootstrap=kafka_bootstrap, database_url=urls.notifier, topic=topic,
        group_id=f"test-notifier-notices-{uuid.uuid4().hex[:12]}", batch_size=5,
        max_attempts=3, backoff_base_seconds=0.1, backoff_cap_seconds=0.4,
        attempt_timeout_seconds=TIMEOUT, lease_seconds=4.0, poll_seconds=0.2,
        webhook_secrets={k: [SecretStr(v)] for k, v in SECRETS.items()},
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_sender=SENDER,
        ledger_public_key_file=ledger_keys()[1],
    )  # fmt: skip


async def _write(owner_url: str, notices: list[PayoutNotice]) -> None:
    """Into the payouts' outbox, as the payouts write it (the owner stands in for them)."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.executemany(
            "INSERT INTO payout_notices (notice_id, kind, channel, year, amount_fen,"
            " enterprise_id, enterprise_name, order_id, batch_id, reason, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [(*astuple(n), AT) for n in notices],
        )
    finally:
        await conn.close()


def _consumed() -> Counter[str]:
    name = "subsidy_notifier_payout_notices_consumed_total"
    return Counter({kind: int(metric(name, kind=kind)) for kind in KINDS})


async def _all_sent(db: Db, expected: int) -> None:
    async def settled() -> bool:
        states = await db.states()
        return states["pending"] == 0 and states["sent"] == expected

    await eventually(settled, what=f"{expected} deliveries sent")


def _mails(smtp: MailStore) -> Counter[tuple[str, str]]:
    return Counter((r, str(m["X-Subsidy-Notice-Id"])) for rs, m in smtp.messages for r in rs)


def _first_heard(receiver: WebhookReceiver, smtp: MailStore) -> None:
    """A's webhook and mailbox got PAID and RETURNED, signed, with amounts and the reason."""
    assert receiver.keys("a") == {PAID.notice_id, RETURNED.notice_id}
    assert receiver.keys("b") == {PAID_B.notice_id}
    paid = receiver.bodies[("a", PAID.notice_id)]
    assert paid["subject"].startswith("【已发放】¥1,234,567.89 — 市科技局 2025年度")
    assert "金额：¥1,234,567.89" in paid["text"]
    assert paid["notice"]["createdAt"] == "2025-07-01T16:00:00+08:00"
    returned = receiver.bodies[("a", RETURNED.notice_id)]
    assert returned["reasonText"] == "账户已销户"
    assert "退回原因：账户已销户" in returned["text"]
    assert "苏州政务服务网" in returned["actionText"]
    assert "Amount: ¥500.00" in receiver.bodies[("b", PAID_B.notice_id)]["text"]
    assert _mails(smtp) == Counter({
        (MAIL[A], PAID.notice_id): 1, (MAIL[A], RETURNED.notice_id): 1,
        (MAIL["市科技局"], WARNING.notice_id): 1, (SIP_MAIL, FULL.notice_id): 1,
    })  # fmt: skip
    returned_mail = next(m for m in smtp.to(MAIL[A]) if "退回" in str(m["Subject"]))
    assert "退回原因：账户已销户" in returned_mail.get_content()
    warning = smtp.to(MAIL["市科技局"])[0]
    assert str(warning["Subject"]) == "【预算预警】市科技局 2025年度预算已使用81.2%"
    assert "已承诺金额：¥8,123,456.78（81.2%）" in warning.get_content()
    full = smtp.to(SIP_MAIL)[0]
    assert "orders now wait for budget" in str(full["Subject"])


async def _nothing_for_the_unheard(db: Db) -> None:
    """Every notice taken in once; SENT, C's and an unsubscribed bureau's planned nothing."""
    taken = await db.rows("SELECT notice_id FROM notifier_payout_notices")
    assert sorted(r["notice_id"] for r in taken) == sorted(n.notice_id for n in FIRST)
    planned = await db.rows("SELECT DISTINCT notice_id FROM notifier_deliveries")
    assert {r["notice_id"] for r in planned} == {
        PAID.notice_id,
        RETURNED.notice_id,
        PAID_B.notice_id,
        WARNING.notice_id,
        FULL.notice_id,
    }


def _each_once(receiver: WebhookReceiver, smtp: MailStore) -> None:
    assert all(n == 1 for n in receiver.accepted.values()), receiver.accepted
    assert [c for c in receiver.calls if c.outcome != "accepted"] == []
    assert all(n == 1 for n in _mails(smtp).values()), _mails(smtp)


@pytest.mark.usefixtures("subscribed")
async def test_enterprises_hear_of_money_and_bureaus_of_budgets_once_across_restarts(
    settings: NotifierSettings, urls: Urls, receiver: WebhookReceiver, smtp: MailStore
) -> None:
    db = Db(urls.notifier)
    await _write(urls.owner, FIRST)
    before = _consumed()
    async with running(notifier_worker(settings, CATALOG)):
        await _all_sent(db, 7)  # A: 2 webhooks, 2 mails; B: 1 webhook; two bureaus' mails
    assert _consumed() - before == Counter(SENT=1, PAID=3, RETURNED=1, BUDGET_ALERT=3)
    _first_heard(receiver, smtp)
    await _nothing_for_the_unheard(db)

    # A restart: the new worker reads past its cursor only (a worker that forgot it would
    # count every notice again here, and its receivers would be told twice).
    later = _order("PAID", A, 5, 99)
    before = _consumed()
    async with running(notifier_worker(settings, CATALOG)):
        await _write(urls.owner, [later])
        await _all_sent(db, 9)
    assert _consumed() - before == Counter(PAID=1)
    assert receiver.keys("a") == {PAID.notice_id, RETURNED.notice_id, later.notice_id}
    _each_once(receiver, smtp)

    # Two notifiers side by side over a burst (several batches): each message once.
    burst = [_order("PAID", B, 100 + n, 1_000 + n) for n in range(12)]
    async with (
        running(notifier_worker(settings, CATALOG)),
        running(notifier_worker(settings, CATALOG)),
    ):
        await _write(urls.owner, burst)
        await _all_sent(db, 9 + len(burst))
    assert receiver.keys("b") == {PAID_B.notice_id} | {n.notice_id for n in burst}
    _each_once(receiver, smtp)
    taken = await db.rows("SELECT count(*) AS n FROM notifier_payout_notices")
    assert taken[0]["n"] == len(FIRST) + 1 + len(burst)
