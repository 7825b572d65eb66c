"""`subsidy notify failed` and `subsidy notify subscriptions list` on PostgreSQL."""

# Tables in Chinese by default and in English with `--lang en` (statuses, channels and kinds in
# words, times in Beijing time); their JSON keeps the codes whatever the language.

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from subsidy.notifier.repository import put_subscriptions
from subsidy.notifier.subscriptions import Subscription
from tests.notifier.stack import MAIL, A, notify_cli

pytestmark = pytest.mark.postgres

DEAD_AT = datetime(2026, 3, 2, 2, 15, 7, tzinfo=UTC)  # 10:15:07 in Beijing
DECISION = f"{A}:d-1/m03.municipal_key_lab#1"
HOOK = "https://hooks.example.test/subsidy"


async def _seed(url: str) -> None:
    """A subscription by webhook and mail, a bureau's by mail, and one dead webhook delivery."""
    conn = await asyncpg.connect(url)
    try:
        await put_subscriptions(conn, [Subscription("enterprise", A, HOOK, MAIL[A], "zh"),
                                       Subscription("bureau", "市科技局", None,
                                                    "kjj@example.test", "en")])  # fmt: skip
        await conn.execute(
            "INSERT INTO notifier_decisions (decision_id, enterprise_id, rule_id, status,"
            " payload, kafka_partition, kafka_offset) VALUES ($1, $2, 'm03.municipal_key_lab',"
            " 'PAID', '', 0, 0)",
            DECISION, A,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO notifier_deliveries (decision_id, channel, recipient, endpoint, audience,"
            " subscriber, language, subject, body, state, attempts, last_error, dead_at)"
            " VALUES ($1, 'webhook', $2, $2, 'enterprise', $3, 'zh', 's', 'b', 'dead', 3,"
            " 'timed out', $4)",
            DECISION, HOOK, A, DEAD_AT,
        )  # fmt: skip
    finally:
        await conn.close()


def test_failed_and_subscriptions_in_either_language(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUBSIDY_LANG", raising=False)
    asyncio.run(_seed(db_url))

    zh = notify_cli(db_url, "failed")
    assert zh.returncode == 0, zh.stderr
    for text in ("投递失败（1）", "决定或通知", "失败时间", DECISION, "已拨付", "网络回调", HOOK,
                 "timed out", "2026-03-02 10:15:07 +08:00", "重新投递"):  # fmt: skip
        assert text in zh.stdout, text
    for code in ("PAID", "webhook", "Dead deliveries", "+00:00"):
        assert code not in zh.stdout, code
    en = notify_cli(db_url, "failed", "--lang", "en")
    assert en.returncode == 0, en.stderr
    for text in ("Dead deliveries (1)", "decision or notice", "dead at", DECISION, "Paid",
                 "webhook", "2026-03-02 10:15:07 +08:00", "Requeue one with"):  # fmt: skip
        assert text in en.stdout, text
    assert "已拨付" not in en.stdout
    as_json = notify_cli(db_url, "failed", "--format", "json").stdout
    assert notify_cli(db_url, "failed", "--format", "json", "--lang", "en").stdout == as_json
    (dead,) = json.loads(as_json)
    assert (dead["status"], dead["channel"], dead["decision_id"]) == ("PAID", "webhook", DECISION)
    assert datetime.fromisoformat(dead["dead_at"]) == DEAD_AT
    for field in ("dead_at", "created_at"):  # every instant of the row, with its offset
        moment = datetime.fromisoformat(dead[field])
        assert moment.utcoffset() == timedelta(hours=8), (field, dead[field])
        assert "T" in dead[field], "ISO-8601, with its offset, in Beijing time"

    zh = notify_cli(db_url, "subscriptions", "list")
    assert zh.returncode == 0, zh.stderr
    for text in ("订阅（2）", "类别", "订阅方", "企业", "主管部门", "市科技局", A, HOOK,
                 "已配置", "中文", "英文"):  # fmt: skip
        assert text in zh.stdout, text
    for code in ("Subscriptions", "enterprise", "bureau", "yes"):
        assert code not in zh.stdout, code
    en = notify_cli(db_url, "subscriptions", "list", "--lang", "en")
    for text in ("Subscriptions (2)", "kind", "subscriber", "enterprise", "bureau", "yes",
                 "Chinese", "English"):  # fmt: skip
        assert text in en.stdout, text
    assert "订阅方" not in en.stdout
    as_json = notify_cli(db_url, "subscriptions", "list", "--format", "json").stdout
    listed = notify_cli(db_url, "subscriptions", "list", "--format", "json", "--lang", "en")
    assert listed.stdout == as_json
    assert {(s["kind"], s["language"]) for s in json.loads(as_json)} == {
        ("enterprise", "zh"), ("bureau", "en")}  # fmt: skip
