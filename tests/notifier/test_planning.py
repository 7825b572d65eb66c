"""Notifier planning and configuration: who is told, subscription validation, settings."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.notifier.planner import endpoint_of, needs_people, plan
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.signing import new_secret
from subsidy.notifier.subscriptions import (
    Subscription,
    SubscriptionError,
    bureaus_of,
    parse_file,
    validate,
)

ENTERPRISE = "91350100M000100Y43"
SECRET = new_secret()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _decision(status: int, clawback_fen: int = 0, rule_id: str = "m03.provincial_key_lab"):  # type: ignore[no-untyped-def]
    return dpb.Decision(
        decision_id=f"ev-1/{rule_id}#1",
        enterprise_id=ENTERPRISE,
        enterprise_name="苏州测试机器人有限公司",
        rule_id=rule_id,
        measure=int(rule_id[1:3]),
        status=status,  # type: ignore[arg-type]
        clawback_fen=clawback_fen,
    )


ENT = Subscription("enterprise", ENTERPRISE, "https://hooks.acme.cn/subsidy", "ops@acme.cn", "zh")
BUREAUS = {
    "市科技局": Subscription("bureau", "市科技局", None, "kj@sz.gov.cn", "zh"),
    "市工信局": Subscription("bureau", "市工信局", None, "gx@sz.gov.cn", "en"),
    # Two bureaus sharing one mailbox get one message.
    "市财政局": Subscription("bureau", "市财政局", None, "kj@sz.gov.cn", "zh"),
}


@pytest.mark.parametrize(
    ("status", "clawback", "expected"),
    [
        (dpb.PAID, 0, False),
        (dpb.PARTIALLY_PAID, 0, False),
        (dpb.DENIED, 0, False),
        (dpb.RECORDED, 0, False),
        (dpb.SUPERSEDED, 0, False),
        (dpb.REFERRED, 0, True),
        (dpb.PENDING_REVIEW, 0, True),
        (dpb.REVOKED, 0, True),
        (dpb.REVOKED, 500, True),
        (dpb.SUPERSEDED, 500, True),
    ],
)
def test_people_are_needed_for_referred_pending_and_clawbacks(
    status: int, clawback: int, expected: bool
) -> None:
    assert needs_people(_decision(status, clawback)) is expected


def test_paid_goes_to_the_enterprise_only(catalog: Catalog) -> None:
    planned = plan(_decision(dpb.PAID), catalog, ENT, BUREAUS)
    assert [(p.channel, p.recipient, p.audience) for p in planned] == [
        ("webhook", "https://hooks.acme.cn/subsidy", "enterprise"),
        ("email", "ops@acme.cn", "enterprise"),
    ]
    assert planned[0].endpoint == "https://hooks.acme.cn:443/subsidy"
    assert planned[1].endpoint == "smtp"
    assert planned[0].body.startswith("{")  # the webhook gets JSON, the mail plain text
    assert not planned[1].body.startswith("{")


def test_pending_review_reaches_the_rules_subscribed_bureaus(catalog: Catalog) -> None:
    planned = plan(_decision(dpb.PENDING_REVIEW), catalog, ENT, BUREAUS)
    bureau = [(p.recipient, p.subscriber, p.language) for p in planned if p.audience == "bureau"]
    # m03's units are 市科技局, 市发改委, 市工信局, 市财政局; 市发改委 has no subscription and
    # 市财政局 shares 市科技局's mailbox.
    assert bureau == [("kj@sz.gov.cn", "市科技局", "zh"), ("gx@sz.gov.cn", "市工信局", "en")]
    english = next(p for p in planned if p.recipient == "gx@sz.gov.cn")
    assert english.subject.startswith("[Action needed · Pending review]")


def test_no_enterprise_subscription_still_tells_bureaus(catalog: Catalog) -> None:
    planned = plan(_decision(dpb.REFERRED, rule_id="m04.key_component_rd"), catalog, None, BUREAUS)
    assert [p.recipient for p in planned] == ["kj@sz.gov.cn"]


def test_endpoint_is_the_normalised_url() -> None:
    assert endpoint_of("http://127.0.0.1:8080/a/b?x=1") == "http://127.0.0.1:8080/a/b?x=1"
    assert endpoint_of("https://Hooks.Example.cn/x") == "https://hooks.example.cn:443/x"
    assert endpoint_of("https://hooks.example.cn") == "https://hooks.example.cn:443/"


def _validate(
    catalog: Catalog, secrets: frozenset[str] = frozenset(), **raw: object
) -> Subscription:
    return validate(raw, bureaus=bureaus_of(catalog), has_secret=lambda s: s in secrets)


def test_valid_subscriptions(catalog: Catalog) -> None:
    sub = _validate(
        catalog,
        frozenset({ENTERPRISE}),
        enterprise_id=ENTERPRISE,
        webhook_url="https://hooks.acme.cn/subsidy",
        language="EN",
    )
    assert (sub.kind, sub.subscriber, sub.language, sub.email) == (
        "enterprise",
        ENTERPRISE,
        "en",
        None,
    )
    bureau = _validate(catalog, bureau="市市场监管局", email="scjg@suzhou.gov.cn")
    assert (bureau.kind, bureau.language, bureau.webhook_url) == ("bureau", "zh", None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"email": "a@b.cn"}, "exactly one of enterpriseId or bureau"),
        ({"enterprise_id": ENTERPRISE, "bureau": "市工信局", "email": "a@b.cn"}, "exactly one"),
        ({"enterprise_id": "91350100M000100Y44", "email": "a@b.cn"}, "enterpriseId:"),
        ({"enterprise_id": "913501", "email": "a@b.cn"}, "enterpriseId:"),
        ({"bureau": "市教育厅", "email": "a@b.cn"}, "bureau: '市教育厅' is not a responsible unit"),
        ({"enterprise_id": ENTERPRISE}, "at least one of webhookUrl or email"),
        ({"enterprise_id": ENTERPRISE, "webhook_url": "ftp://x.cn/h"}, "http or https"),
        ({"enterprise_id": ENTERPRISE, "webhook_url": "https:///nohost"}, "must name a host"),
        ({"enterprise_id": ENTERPRISE, "webhook_url": "https://x.cn/a b"}, "spaces"),
        ({"bureau": "市工信局", "webhook_url": "https://x.cn/h"}, "no webhook secret"),
        ({"enterprise_id": ENTERPRISE, "email": "not-an-email"}, "email:"),
        ({"enterprise_id": ENTERPRISE, "email": "a@b.cn\r\nBcc: x@y.cn"}, "email:"),
        ({"enterprise_id": ENTERPRISE, "email": "a@b.cn", "language": "fr"}, "language:"),
    ],
)
def test_invalid_subscriptions_name_the_field(
    catalog: Catalog, raw: dict[str, object], message: str
) -> None:
    with pytest.raises(SubscriptionError, match=message):
        _validate(catalog, frozenset({ENTERPRISE}), **raw)


def test_file_is_taken_whole_or_not_at_all(catalog: Catalog, tmp_path: Path) -> None:
    good = tmp_path / "subs.yaml"
    good.write_text(
        "subscriptions:\n"
        f"  - enterpriseId: {ENTERPRISE}\n"
        "    webhookUrl: https://hooks.acme.cn/subsidy\n"
        "    language: en\n"
        "  - bureau: 市工信局\n"
        "    email: gx@sz.gov.cn\n",
        encoding="utf-8",
    )
    subs = parse_file(good, bureaus=bureaus_of(catalog), has_secret=lambda s: s == ENTERPRISE)
    assert [(s.kind, s.subscriber) for s in subs] == [
        ("enterprise", ENTERPRISE),
        ("bureau", "市工信局"),
    ]

    bad = tmp_path / "bad.json"
    bad.write_text(
        '[{"bureau": "市工信局", "email": "gx@sz.gov.cn"},'
        ' {"bureau": "市工信局", "email": "other@sz.gov.cn"},'
        f' {{"enterpriseId": "{ENTERPRISE}", "webhookUrl": "https://x.cn", "webhookSecret": "s"}},'
        ' {"bureau": "市科技局", "emial": "kj@sz.gov.cn"}]',
        encoding="utf-8",
    )
    with pytest.raises(SubscriptionError) as err:
        parse_file(bad, bureaus=bureaus_of(catalog), has_secret=lambda s: True)
    text = str(err.value)
    assert "subscriptions[1]: 市工信局 is already subscribed at [0]" in text
    assert "subscriptions[2]: webhookSecret: secrets are not kept in subscription files" in text
    assert "subscriptions[3]: unknown key 'emial'" in text


def test_settings_have_no_default_secrets_and_check_consistency() -> None:
    settings = NotifierSettings()  # type: ignore[call-arg]
    assert settings.admin_token is None
    assert settings.webhook_secrets == {}
    assert settings.grpc_address == "127.0.0.1:50071"
    with pytest.raises(ValidationError, match="lease_seconds must exceed"):
        NotifierSettings(attempt_timeout_seconds=30, lease_seconds=10)  # type: ignore[call-arg]
    configured = NotifierSettings(webhook_secrets={ENTERPRISE: [SecretStr(SECRET)]})  # type: ignore[call-arg]
    assert configured.webhook_signing_secrets(ENTERPRISE) == (SECRET,)
    assert configured.webhook_signing_secrets("someone else") == ()
    assert SECRET not in repr(configured)  # secrets never reach logs
