"""Real peers for the notifier tests: a signature-checking webhook receiver, an SMTP server."""

import asyncio
import email
import email.policy
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from kafka import KafkaConsumer, TopicPartition
from standardwebhooks import Webhook, WebhookVerificationError

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.events.v1 import events_pb2 as epb
from tests.support.kafka import client_options

# Prefix of the schema private to one notifier test (databases.create_schema).
NOTIFIER_SCHEMA = "notifier"


@dataclass
class Hook:
    """How one receiver path behaves."""

    secret: str  # whsec_<base64>
    fail_first: dict[str, int] = field(default_factory=dict)  # key → 500s before success
    slow_once: set[str] = field(default_factory=set)  # keys whose first call hangs
    dead: bool = False  # every call hangs past the client's timeout


@dataclass
class Call:
    """One request the receiver saw."""

    path: str
    key: str
    outcome: str  # accepted, duplicate, failed, slow, hung, bad-signature
    at: float


class WebhookReceiver:
    """An aiohttp server on 127.0.0.1 that checks every signature like a real subscriber
    (with the Standard Webhooks library), counts what it accepted per webhook-id, and
    misbehaves as each Hook says."""

    def __init__(self, hooks: dict[str, Hook], hang_seconds: float) -> None:
        self.hooks = hooks
        self.hang_seconds = hang_seconds
        self.calls: list[Call] = []
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.bodies: dict[tuple[str, str], dict[str, Any]] = {}
        self._seen: Counter[tuple[str, str]] = Counter()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        """The subscription URL of a path."""
        return f"http://127.0.0.1:{self.port}/hooks/{path}"

    def keys(self, path: str) -> set[str]:
        """webhook-ids accepted on a path."""
        return {k for (p, k) in self.accepted if p == path}

    def calls_for(self, path: str, key: str) -> list[str]:
        """Outcomes of the calls for one key on one path, in order."""
        return [c.outcome for c in self.calls if c.path == path and c.key == key]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["name"]
        hook = self.hooks[path]
        body = await request.read()
        key = request.headers.get("webhook-id", "")
        try:
            Webhook(hook.secret).verify(body, dict(request.headers))
            valid = True
        except WebhookVerificationError:
            valid = False
        if not valid:
            self.calls.append(Call(path, key, "bad-signature", time.monotonic()))
            return web.Response(status=401, text="bad signature")
        self._seen[(path, key)] += 1
        calls = self._seen[(path, key)]
        if hook.dead:
            self.calls.append(Call(path, key, "hung", time.monotonic()))
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=503)
        if key in hook.slow_once and calls == 1:
            self.calls.append(Call(path, key, "slow", time.monotonic()))
            # The client gives up first; the handler is cancelled when it hangs up.
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=200)
        if calls <= hook.fail_first.get(key, 0):
            self.calls.append(Call(path, key, "failed", time.monotonic()))
            return web.Response(status=500, text="try again")
        payload = json.loads(body)
        # The key is the decision's id, the payout notice's or the appeal notice's.
        ids = (payload.get("decisionId"), payload.get("noticeId"), payload.get("appealNoticeId"))
        assert key in ids, key
        if (path, key) in self.accepted:
            # What webhook-id is for: acknowledge, do nothing twice.
            self.calls.append(Call(path, key, "duplicate", time.monotonic()))
        else:
            self.calls.append(Call(path, key, "accepted", time.monotonic()))
            self.bodies[(path, key)] = payload
        self.accepted[(path, key)] += 1
        return web.json_response({"ok": True})

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()


class MailStore:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, parsed."""
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to one address."""
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    """A loopback port nobody listens on (aiosmtpd's controller needs one up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_smtp() -> tuple[Controller, MailStore]:
    """A real SMTP server on 127.0.0.1 in its own thread."""
    store = MailStore()
    store.port = free_port()
    controller = Controller(store, hostname="127.0.0.1", port=store.port)
    controller.start()
    return controller, store


def decision(
    catalog: Catalog,
    enterprise_id: str,
    event_id: str,
    rule_id: str,
    status: int,
    *,
    revision: int = 1,
    reasons: tuple[int, ...] = (),
    entitled_fen: int = 0,
    granted_fen: int = 0,
    cash_delta_fen: int = 0,
    clawback_fen: int = 0,
) -> dpb.Decision:
    """A Decision as the ledger publishes it."""
    rule = catalog.rule(rule_id)
    return dpb.Decision(
        decision_id=f"{event_id}/{rule_id}#{revision}",
        entitlement_id=f"{event_id}/{rule_id}",
        event_id=event_id,
        enterprise_id=enterprise_id,
        enterprise_name=f"测试企业 {enterprise_id[-4:]}",
        district=epb.SIP,
        rule_id=rule_id,
        measure=rule.measure,
        item_id=f"item-{event_id}",
        year=2025,
        status=status,  # type: ignore[arg-type]
        reasons=list(reasons),  # type: ignore[arg-type]
        entitled_fen=entitled_fen,
        granted_fen=granted_fen,
        cash_delta_fen=cash_delta_fen,
        clawback_fen=clawback_fen,
        revision=revision,
        caused_by_event_id=event_id,
        funding_channels=list(rule.responsible_units),
        clause=rule.clause,
        catalog_version=catalog.version,
        decided_at="2025-07-01T08:00:00Z",
    )


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 60.0, what: str = "condition"
) -> None:
    """Poll until check() is true; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")


def read_dead_letters(bootstrap: str, topic: str, count: int) -> list[epb.DeadLetter]:
    """The dead letters on a one-partition topic, once `count` are there (or ~20 s passed)."""
    consumer = KafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        letters: list[epb.DeadLetter] = []
        for _ in range(100):
            for batch in consumer.poll(timeout_ms=200).values():
                letters += [epb.DeadLetter.FromString(r.value) for r in batch]
            if len(letters) >= count:
                break
        return letters
    finally:
        consumer.close()
