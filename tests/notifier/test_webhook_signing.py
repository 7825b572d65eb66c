"""Webhooks signed the Standard Webhooks way."""

# What the notifier sends over real HTTP, checked by the standardwebhooks library as a receiver
# would; secret rotation; the settings' refusals.

import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr, ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from subsidy.notifier.delivery import WebhookSender
from subsidy.notifier.repository import Claimed
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.signing import new_secret

ENTERPRISE = "91350100M000100Y43"
DECISION_ID = "ev-7/m09.first_unit#1"
BODY = json.dumps({"decisionId": DECISION_ID, "text": "已拨付 ¥1,200,000.00"}, ensure_ascii=False)


@dataclass
class Capture:
    """A loopback HTTP server that keeps each request's body and headers as received."""

    requests: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)


@pytest.fixture
async def capture() -> AsyncIterator[Capture]:
    cap = Capture()
    app = web.Application()
    app.router.add_post("/hook", cap.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    cap.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield cap
    finally:
        await runner.cleanup()


def _delivery(url: str, attempt: int = 1) -> Claimed:
    return Claimed(
        id=1, decision_id=DECISION_ID, notice_id=None, channel="webhook", recipient=url,
        endpoint=url, subscriber=ENTERPRISE, language="zh", subject="", body=BODY,
        attempt=attempt, created_at=datetime.now(UTC),
    )  # fmt: skip


def _skewed(seconds: float) -> float:
    """The time now, off by `seconds`: a sender's clock that is wrong."""
    return time.time() + seconds


async def _send(
    capture: Capture, secrets: list[str], clock: Callable[[], float] = time.time, attempt: int = 1
) -> tuple[bytes, dict[str, str]]:
    """One attempt by the notifier's own sender; what the receiver got."""
    settings = NotifierSettings(  # type: ignore[call-arg]
        webhook_secrets={ENTERPRISE: [SecretStr(s) for s in secrets]}
    )
    async with aiohttp.ClientSession() as session:
        result = await WebhookSender(session, settings, clock).send(_delivery(capture.url, attempt))
    assert result.ok, result.detail
    return capture.requests[-1]


async def test_a_delivery_verifies_with_the_subscribers_secret(capture: Capture) -> None:
    secret = new_secret()
    body, headers = await _send(capture, [secret])
    assert Webhook(secret).verify(body, headers) == json.loads(BODY)
    assert headers["webhook-id"] == DECISION_ID
    assert headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


async def test_the_library_refuses_a_tampered_body_a_wrong_secret_and_a_stale_time(
    capture: Capture,
) -> None:
    secret = new_secret()
    body, headers = await _send(capture, [secret])
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body.replace(b"1,200,000", b"9,200,000"), headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, {**headers, "webhook-id": "ev-8/m09.first_unit#1"})
    # Signed ten minutes ago or ten minutes ahead: outside the five minutes' tolerance.
    for skew, why in ((-600, "too old"), (600, "too new")):
        body, headers = await _send(capture, [secret], clock=functools.partial(_skewed, skew))
        with pytest.raises(WebhookVerificationError, match=why):
            Webhook(secret).verify(body, headers)


async def test_during_a_rotation_either_secret_verifies(capture: Capture) -> None:
    new, old = new_secret(), new_secret()
    body, headers = await _send(capture, [new, old])
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    assert Webhook(new).verify(body, headers) == json.loads(BODY)
    assert Webhook(old).verify(body, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    # The old secret dropped: only the new one signs, and a receiver still on the old fails.
    body, headers = await _send(capture, [new])
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


async def test_a_redelivery_keeps_its_webhook_id(capture: Capture) -> None:
    secret = new_secret()
    first = await _send(capture, [secret], clock=lambda: time.time() - 30)
    again = await _send(capture, [secret], attempt=2)
    assert first[1]["webhook-id"] == again[1]["webhook-id"] == DECISION_ID
    assert first[1]["webhook-timestamp"] != again[1]["webhook-timestamp"]
    for body, headers in (first, again):
        Webhook(secret).verify(body, headers)


async def test_no_secret_no_webhook(capture: Capture) -> None:
    settings = NotifierSettings()  # type: ignore[call-arg]
    async with aiohttp.ClientSession() as session:
        result = await WebhookSender(session, settings).send(_delivery(capture.url))
    assert not result.ok
    assert result.permanent
    assert capture.requests == []


def test_one_secret_or_a_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    one, new, old = new_secret(), new_secret(), new_secret()
    monkeypatch.setenv(
        "NOTIFIER_WEBHOOK_SECRETS", json.dumps({ENTERPRISE: one, "市工信局": [new, old]})
    )
    settings = NotifierSettings()  # type: ignore[call-arg]
    assert settings.webhook_signing_secrets(ENTERPRISE) == (one,)
    assert settings.webhook_signing_secrets("市工信局") == (new, old)
    for secret in (one, new, old):
        assert secret not in repr(settings)
        assert secret not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("shh-0123456789abcdef0123456789", "must be whsec_<base64>"),
        ("whsec_not*base64!0123456789abcdefghij", "is not base64"),
        ("whsec_" + "QUJD" * 4, "must hold 24 to 64 random bytes, holds 12"),
        ([], "give one whsec_ secret"),
    ],
)
def test_a_bad_secret_is_refused_naming_the_setting_not_the_secret(
    monkeypatch: pytest.MonkeyPatch, value: object, says: str
) -> None:
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRETS", json.dumps({ENTERPRISE: value}))
    with pytest.raises(ValidationError) as err:
        NotifierSettings()  # type: ignore[call-arg]
    text = str(err.value)
    assert f"NOTIFIER_WEBHOOK_SECRETS['{ENTERPRISE}']" in text
    assert says in text
    if isinstance(value, str):
        assert value.removeprefix("whsec_") not in text


def test_a_rotation_list_names_the_bad_entry_and_refuses_a_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = new_secret()
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRETS", json.dumps({ENTERPRISE: [good, "whsec_QUJD"]}))
    with pytest.raises(ValidationError, match=r"\['91350100M000100Y43'\]\[1\]: must hold") as err:
        NotifierSettings()  # type: ignore[call-arg]
    assert good.removeprefix("whsec_") not in str(err.value)
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRETS", json.dumps({ENTERPRISE: [good, good]}))
    with pytest.raises(ValidationError, match="the same secret is listed twice") as err:
        NotifierSettings()  # type: ignore[call-arg]
    assert good.removeprefix("whsec_") not in str(err.value)
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRETS", json.dumps({ENTERPRISE: 42}))
    with pytest.raises(ValidationError, match="NOTIFIER_WEBHOOK_SECRETS") as err:
        NotifierSettings()  # type: ignore[call-arg]
    assert "42" not in str(err.value)  # the refused value is never echoed
