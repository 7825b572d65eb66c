"""Decisions changed by corrections and retractions, end to end."""

# The ledger's decisions on a Kafka topic (each correction sent twice, as a relay may), the notifier
# worker as its own login, a signature-checking webhook receiver and an SMTP server. The enterprise
# and the responsible bureaus hear of each changed decision once, with before and after.

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from subsidy.domain.catalog import load_catalog
from subsidy.infra.lifecycle import running
from subsidy.notifier.bootstrap import notifier_worker
from subsidy.notifier.settings import NotifierSettings
from tests.notifier.corrections import corrected_story, decided
from tests.notifier.receivers import Hook, MailStore, WebhookReceiver, eventually
from tests.notifier.stack import (
    HANG,
    MAIL,
    SECRETS,
    SENDER,
    TIMEOUT,
    A,
    Db,
    ledger_keys,
    notify_cli,
    publish,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CATALOG = load_catalog()
DOWN = "corr-inv/m08.compute_voucher#2"
UP = "corr-inv/m08.compute_voucher#3"
RETRACTED = "corr-lab/m03.municipal_key_lab#2"
TOPPED = "corr-top/m08.compute_voucher#2"  # a top-up, no clawback on it before or after
GX, KJ = "市工信局", "市科技局"  # m08's and m03's unit (zh), and m03's only (en)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    peer = WebhookReceiver({"a": Hook(SECRETS[A])}, hang_seconds=HANG)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@pytest.fixture
async def subscribed(db_url: str, receiver: WebhookReceiver, tmp_path: Path) -> None:
    subs = [
        {"enterpriseId": A, "webhookUrl": receiver.url("a"), "email": MAIL[A]},
        {"bureau": GX, "email": MAIL[GX]},
        {"bureau": KJ, "email": MAIL[KJ], "language": "en"},
    ]
    path = tmp_path / "subscriptions.json"
    path.write_text(json.dumps(subs, ensure_ascii=False), encoding="utf-8")
    loaded = await asyncio.to_thread(notify_cli, db_url, "subscriptions", "load", str(path))
    assert loaded.returncode == 0, loaded.stderr


@pytest.fixture
def settings(kafka_bootstrap: str, topic: str, db_url: str, smtp: MailStore) -> NotifierSettings:
    return NotifierSettings(  # type: ignore[call-arg]
        kafka_bootstrap=kafka_bootstrap, database_url=db_url, topic=topic,
        group_id=f"test-notifier-corrections-{uuid.uuid4().hex[:12]}", max_attempts=3,
        backoff_base_seconds=0.1, backoff_cap_seconds=0.4, attempt_timeout_seconds=TIMEOUT,
        lease_seconds=4.0, poll_seconds=0.2,
        webhook_secrets={k: [SecretStr(v)] for k, v in SECRETS.items()},
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_sender=SENDER,
        ledger_public_key_file=ledger_keys()[1],
    )  # fmt: skip


def _mailed(smtp: MailStore) -> Counter[tuple[str, str]]:
    return Counter((r, str(m["X-Subsidy-Decision-Id"])) for rs, m in smtp.messages for r in rs)


@pytest.mark.usefixtures("subscribed")
async def test_each_changed_decision_reaches_the_enterprise_and_bureaus_once(
    settings: NotifierSettings, db_url: str, receiver: WebhookReceiver, smtp: MailStore
) -> None:
    decisions = decided(CATALOG, corrected_story(A))
    changed = [decisions[k] for k in (DOWN, UP, RETRACTED, TOPPED)]
    db = Db(db_url)
    async with running(notifier_worker(settings, CATALOG)):
        await publish(settings.kafka_bootstrap, settings.topic, [*decisions.values(), *changed])

        async def all_sent() -> bool:
            states = await db.states()
            # The enterprise: 7 webhooks and 7 mails; 市工信局 4 mails, 市科技局 1.
            return states["pending"] == 0 and states["sent"] == 19

        await eventually(all_sent, what="19 deliveries sent")
        planned = await db.rows("SELECT decision_id FROM notifier_decisions")
        assert sorted(r["decision_id"] for r in planned) == sorted(decisions)

    assert receiver.keys("a") == set(decisions)
    assert all(n == 1 for n in receiver.accepted.values()), receiver.accepted
    down = receiver.bodies[("a", DOWN)]
    assert down["subject"].startswith("【更正·已拨付】第八条")
    assert (down["correction"]["before"]["grantedFen"], down["correction"]["after"]["grantedFen"],
            down["correction"]["owedBackFen"]) == ("12000000", "2000000", "10000000")  # fmt: skip
    assert down["correction"]["decidedAt"] == "2025-07-01T16:00:00+08:00"
    assert receiver.bodies[("a", UP)]["correction"]["topUpFen"] == "4000000"
    assert receiver.bodies[("a", RETRACTED)]["correction"]["retractedBy"] == "corr-ret"
    first = receiver.bodies[("a", "corr-inv/m08.compute_voucher#1")]
    assert first["correction"] is None

    mailed = _mailed(smtp)
    assert all(n == 1 for n in mailed.values()), mailed
    assert {k for r, k in mailed if r == MAIL[A]} == set(decisions)
    assert {k for r, k in mailed if r == MAIL[GX]} == {DOWN, UP, RETRACTED, TOPPED}
    assert {k for r, k in mailed if r == MAIL[KJ]} == {RETRACTED}
    to_gx = {str(m["X-Subsidy-Decision-Id"]): m for m in smtp.to(MAIL[GX])}
    text = to_gx[DOWN].get_content()
    assert str(to_gx[DOWN]["Subject"]).startswith("【待办·更正·已拨付】第八条")
    assert "变更前：已拨付 ¥120,000.00\n变更后：已拨付 ¥20,000.00" in text
    assert "请按规定追回已拨付但不再应得的资金 ¥100,000.00" in text
    assert "将补拨 ¥40,000.00" in to_gx[UP].get_content()
    assert decisions[TOPPED].clawback_fen == 0  # the bureau hears of it as a correction alone
    topped = to_gx[TOPPED].get_content()
    assert (
        "变更前：已拨付 ¥10,000.00\n变更后：已拨付 ¥30,000.00\n资金：将补拨 ¥20,000.00。" in topped
    )
    assert "【待办】本项支持因更正或撤回而增加，将补拨 ¥20,000.00，请知悉。" in topped
    english = smtp.to(MAIL[KJ])[0]
    assert str(english["Subject"]).startswith("[Action needed · Retracted] Measure 3")
    assert "was retracted by corr-ret (reason: 证书误发)" in english.get_content()
