"""Appeal notices end to end."""

# The ledger's notices on an appeals topic of the test's own (each sent twice, as a relay may), the
# notifier worker as its own login, a signature-checking webhook receiver and an SMTP server. The
# bureaus hear of a filing, the enterprise of a dismissal or an upheld appeal, each once; a signed
# decision copied onto the appeals topic is dead-lettered.

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import load_catalog
from subsidy.infra.lifecycle import running
from subsidy.ledger.relay import signed_headers, signed_notice_headers
from subsidy.notifier.bootstrap import notifier_pool, notifier_worker
from subsidy.notifier.repository import put_subscriptions
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import Subscription
from tests.notifier.appeal_notices import EXPO, VOUCHER, appeal_story, noticed
from tests.notifier.corrections import decided
from tests.notifier.receivers import MailStore, WebhookReceiver, eventually
from tests.notifier.stack import (
    MAIL,
    SECRETS,
    SENDER,
    TIMEOUT,
    A,
    Db,
    ledger_keys,
    ledger_signer,
    metric,
)
from tests.support.kafka import client_options
from tests.support.topics import private_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CATALOG = load_catalog()
TOLD = {"ap-expo-2p#APPEAL_DISMISSED", "ap-inv-2p#APPEAL_UPHELD_BY_CORRECTION"}


@pytest.fixture
def appeals_topic(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:12]
    names = (f"test.notifier.appeals.{tag}", f"test.notifier.dlq.{tag}")
    with private_topics(kafka_bootstrap, {names[0]: 3, names[1]: 1}):
        yield names


@pytest.fixture
def settings(
    kafka_bootstrap: str, topic: str, appeals_topic: tuple[str, str], db_url: str,
    smtp: MailStore,
) -> NotifierSettings:  # fmt: skip
    return NotifierSettings(  # type: ignore[call-arg]
        kafka_bootstrap=kafka_bootstrap, database_url=db_url, topic=topic,
        appeals_topic=appeals_topic[0], dead_letter_topic=appeals_topic[1],
        group_id=f"test-notifier-appeals-{uuid.uuid4().hex[:12]}", max_attempts=3,
        backoff_base_seconds=0.1, backoff_cap_seconds=0.4, attempt_timeout_seconds=TIMEOUT,
        lease_seconds=4.0, poll_seconds=0.2,
        webhook_secrets={k: [SecretStr(v)] for k, v in SECRETS.items()},
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_sender=SENDER,
        ledger_public_key_file=ledger_keys()[1],
    )  # fmt: skip


async def _subscribe(settings: NotifierSettings, receiver: WebhookReceiver) -> tuple[str, ...]:
    units = CATALOG.rule(EXPO).responsible_units
    subs = [Subscription("enterprise", A, receiver.url("a"), MAIL[A], "zh")]
    subs += [Subscription("bureau", u, None, MAIL[u], "zh") for u in units]
    async with notifier_pool(settings) as pool, pool.acquire() as conn:
        await put_subscriptions(conn, subs)
    return units


async def _publish(settings: NotifierSettings, notices: list[dpb.AppealNotice]) -> None:
    """As the relay does, twice over; then a genuine signed decision copied onto the topic."""
    decision = next(iter(decided(CATALOG, appeal_story(A)).values())).SerializeToString()
    producer = AIOKafkaProducer(**client_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        for n in [*notices, *notices]:
            value = n.SerializeToString()
            headers = signed_notice_headers(ledger_signer(), value)
            await producer.send_and_wait(
                settings.appeals_topic, key=A.encode(), value=value, headers=headers
            )
        headers = signed_headers(ledger_signer(), decision)
        await producer.send_and_wait(
            settings.appeals_topic, key=A.encode(), value=decision, headers=headers
        )
    finally:
        await producer.stop()


async def test_each_party_hears_of_each_appeal_once_and_copies_are_refused(
    settings: NotifierSettings, db_url: str, receiver: WebhookReceiver, smtp: MailStore
) -> None:
    units = await _subscribe(settings, receiver)
    notices = noticed(CATALOG, appeal_story(A))
    forged = metric("subsidy_notifier_forged_decisions_total", reason="bad_signature")
    db = Db(db_url)
    async with running(notifier_worker(settings, CATALOG)):
        await _publish(settings, list(notices.values()))

        async def all_sent() -> bool:
            # The enterprise: 2 webhooks and 2 mails; m06's 市工信局 and 市商务局 a mail per
            # exhibition filed, 市工信局 (one of m08's units too) one for the invoice.
            states = await db.states()
            return states["pending"] == 0 and states["sent"] == 9

        await eventually(all_sent, what="appeal deliveries sent")
        await asyncio.sleep(1.0)  # the copies and the forged record: nothing more comes
        taken = await db.rows("SELECT notice_id FROM notifier_appeal_notices")
        rows = await db.rows("SELECT appeal_notice_id, audience FROM notifier_deliveries")
    assert sorted(r["notice_id"] for r in taken) == sorted(notices)
    assert metric("subsidy_notifier_forged_decisions_total", reason="bad_signature") == forged + 1

    assert set(units) & set(CATALOG.rule(VOUCHER).responsible_units) == {"市工信局"}
    told = Counter((r["appeal_notice_id"], r["audience"]) for r in rows)
    assert told == {
        ("ap-expo-2p#APPEAL_DISMISSED", "enterprise"): 2,
        ("ap-inv-2p#APPEAL_UPHELD_BY_CORRECTION", "enterprise"): 2,
        ("ap-expo-1p#APPEAL_FILED", "bureau"): 2,
        ("ap-expo-2p#APPEAL_FILED", "bureau"): 2,
        ("ap-inv-2p#APPEAL_FILED", "bureau"): 1,
    }
    assert receiver.keys("a") == TOLD
    assert all(n == 1 for n in receiver.accepted.values()), receiver.accepted
    body = receiver.bodies[("a", "ap-expo-2p#APPEAL_DISMISSED")]
    assert body["subject"].startswith("【复核申请·维持原决定】")
    mailed = Counter((r, str(m["X-Subsidy-Notice-Id"])) for rs, m in smtp.messages for r in rs)
    assert all(n == 1 for n in mailed.values()), mailed
    assert {k for r, k in mailed if r == MAIL[A]} == TOLD
    for unit in units:
        filed = {k for r, k in mailed if r == MAIL[unit]}
        assert {"ap-expo-1p#APPEAL_FILED", "ap-expo-2p#APPEAL_FILED"} <= filed
        (first,) = [m for m in smtp.to(MAIL[unit])
                    if str(m["X-Subsidy-Notice-Id"]) == "ap-expo-1p#APPEAL_FILED"]  # fmt: skip
        assert str(first["Subject"]).startswith("【待办·复核申请】第六条")
        assert "请于 2025-07-22 23:59 北京时间" in first.get_content()
