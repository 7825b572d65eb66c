"""Delivery workers: signed webhooks and SMTP mail, at least once, with backoff and leases."""

import asyncio
import contextlib
import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiohttp
import aiosmtplib
import asyncpg
import structlog

from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.notifier import metrics
from subsidy.notifier import repository as repo
from subsidy.notifier.repository import Claimed
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.signing import signed_headers

log = structlog.get_logger(__name__)

USER_AGENT = "subsidy-notifier/1"
# Status codes after which the receiver asks us to slow down; Retry-After is honoured.
_THROTTLED = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one attempt to send achieved. `permanent`: retrying cannot help (no secret, a 5xx SMTP
    refusal), so the delivery is dead at once."""

    ok: bool
    detail: str
    permanent: bool = False
    retry_after: float | None = None


class Sender(Protocol):
    """One channel's way of making one attempt."""

    async def send(self, delivery: Claimed) -> SendResult:
        """Try once; exceptions are treated as retryable failures by the caller."""
        ...


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random. The fixed
    half keeps a failing endpoint from being hammered; the random half spreads the retries of
    many deliveries that failed together (an endpoint that was down for everyone)."""
    step = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    return None  # an HTTP-date: our own backoff is as good


class WebhookSender:
    """POSTs the stored JSON body, signed the Standard Webhooks way with each of the
    subscriber's secrets; webhook-id is what the delivery is about (the decision's or notice's
    id), the same on every redelivery, so a receiver drops a repeat."""

    def __init__(
        self, session: aiohttp.ClientSession, settings: NotifierSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self._session = session
        self._settings = settings
        self._clock = clock

    async def send(self, delivery: Claimed) -> SendResult:
        """One signed POST; a 2xx is success, anything else (redirects too) a failure."""
        secrets = self._settings.webhook_signing_secrets(delivery.subscriber)
        if not secrets:
            return SendResult(
                False, f"no webhook secret configured for {delivery.subscriber}", permanent=True
            )
        body = delivery.body.encode("utf-8")
        # Whole seconds: webhook-timestamp is one, and the signature covers what it says.
        at = datetime.fromtimestamp(int(self._clock()), UTC)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **signed_headers(secrets, delivery.key, at, body),
        }
        timeout = aiohttp.ClientTimeout(total=self._settings.attempt_timeout_seconds)
        try:
            # No redirects: following one would re-send the signed body to a URL nobody
            # subscribed.
            async with self._session.post(
                delivery.recipient, data=body, headers=headers, timeout=timeout,
                allow_redirects=False,
            ) as response:  # fmt: skip
                if 200 <= response.status < 300:
                    return SendResult(True, f"HTTP {response.status}")
                retry_after = None
                if response.status in _THROTTLED:
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                return SendResult(False, f"HTTP {response.status}", retry_after=retry_after)
        except aiohttp.ClientError as err:
            return SendResult(False, f"{type(err).__name__}: {err}")


def message_id(key: str, recipient: str, sender: str) -> str:
    """Message-ID from the decision's (or payout notice's) id and the recipient, since each
    mailbox gets its own message: the same decision re-sent to the same mailbox carries the
    same id, so mail systems and people can recognise the duplicate."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    rcpt = hashlib.sha256(recipient.lower().encode("utf-8")).hexdigest()[:8]
    domain = sender.rpartition("@")[2] or "subsidy.localhost"
    return f"<{digest}.{rcpt}@{domain}>"


class EmailSender:
    """Sends the stored plain text through the configured SMTP relay."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    def build(self, delivery: Claimed) -> EmailMessage:
        """The message as it goes out."""
        s = self._settings
        msg = EmailMessage()
        msg["From"] = s.smtp_sender
        msg["To"] = delivery.recipient
        msg["Subject"] = delivery.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(delivery.key, delivery.recipient, s.smtp_sender)
        if delivery.decision_id:
            msg["X-Subsidy-Decision-Id"] = delivery.decision_id
        else:
            msg["X-Subsidy-Notice-Id"] = delivery.key
        msg["Content-Language"] = "zh-CN" if delivery.language == "zh" else "en"
        msg.set_content(delivery.body, charset="utf-8")
        return msg

    async def send(self, delivery: Claimed) -> SendResult:
        """One SMTP transaction; a 5xx reply is a permanent refusal (RFC 5321 §4.2.1)."""
        s = self._settings
        try:
            await aiosmtplib.send(
                self.build(delivery),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                timeout=s.attempt_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            permanent = bool(codes) and min(codes) >= 500
            return SendResult(False, f"recipient refused: {err}", permanent=permanent)
        except aiosmtplib.SMTPResponseException as err:
            return SendResult(False, f"SMTP {err.code}: {err.message}", permanent=err.code >= 500)
        except (aiosmtplib.SMTPException, OSError) as err:
            return SendResult(False, f"{type(err).__name__}: {err}")
        return SendResult(True, "accepted by the relay")


class DeliveryEngine:
    """Claims due deliveries and runs each attempt in its own task, bounded overall and per
    endpoint, so a slow or dead endpoint holds at most its own few slots and never the rest."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: NotifierSettings,
        senders: dict[str, Sender],
        worker_id: str,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._senders = senders
        self._worker = worker_id
        self._rng = rng or random.Random()
        self._kick = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], Claimed] = {}

    def kick(self) -> None:
        """Look for work now (new deliveries were planned, or a slot came free)."""
        self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until `stop`; then let attempts in flight finish within the
        grace period, and hand back the claims of those that do not."""
        watcher = asyncio.create_task(self._watch(stop))
        try:
            while not stop.is_set():
                self._kick.clear()
                await self._fill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self._settings.poll_seconds)
        finally:
            watcher.cancel()
            await self._drain()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.kick()

    async def _fill(self) -> None:
        s = self._settings
        free = s.concurrency - len(self._inflight)
        if free <= 0:
            return
        busy = Counter(c.endpoint for c in self._inflight.values())
        room = {endpoint: s.endpoint_concurrency - n for endpoint, n in busy.items()}
        try:
            async with self._pool.acquire() as conn:
                claimed = await repo.claim(
                    conn,
                    worker=self._worker,
                    limit=free,
                    room=room,
                    endpoint_limit=s.endpoint_concurrency,
                    lease_seconds=s.lease_seconds,
                    max_attempts=s.max_attempts,
                )
        except DATABASE_ERRORS as err:
            # The database is away: nothing is lost (the rows wait), try again next poll.
            log.warning("notifier.claim_failed", error=str(err))
            return
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery))
            self._inflight[task] = delivery
            metrics.IN_FLIGHT.inc()
            task.add_done_callback(self._done)
        now_busy = Counter(c.endpoint for c in self._inflight.values())
        newly_full = any(
            n >= s.endpoint_concurrency and busy[e] < s.endpoint_concurrency
            for e, n in now_busy.items()
        )
        # Claim again at once if every slot was filled (more may be due), or if an endpoint
        # just filled up: its due rows may have crowded out others' in this claim, and the
        # next claim skips it in SQL.
        if len(claimed) == free or newly_full:
            self.kick()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        metrics.IN_FLIGHT.dec()
        self.kick()

    async def _attempt(self, delivery: Claimed) -> None:
        started_at = datetime.now(UTC)
        began = time.monotonic()
        result = await self._send(delivery)
        seconds = time.monotonic() - began
        state, delay = self._verdict(delivery, result)
        metrics.ATTEMPT_SECONDS.labels(delivery.channel, state).observe(seconds)
        try:
            async with self._pool.acquire() as conn:
                planned_at = await repo.finish(
                    conn,
                    delivery,
                    worker=self._worker,
                    started_at=started_at,
                    duration_ms=round(seconds * 1000),
                    outcome=state,
                    detail=result.detail,
                    retry_in_seconds=delay,
                )
        except DATABASE_ERRORS as err:
            # The lease runs out and another attempt follows: at least once, never lost.
            log.warning("notifier.record_failed", delivery_id=delivery.id, error=str(err))
            return
        _report(delivery, result, state, delay, lease_lost=planned_at is None)

    async def _send(self, delivery: Claimed) -> SendResult:
        """One attempt through the delivery's channel; a timeout or a sender's error is a
        retryable failure."""
        timeout = self._settings.attempt_timeout_seconds
        sender = self._senders[delivery.channel]
        try:
            # The senders time out on their own; this bound also covers DNS, TLS and
            # anything else they might wait on.
            async with asyncio.timeout(timeout):
                return await sender.send(delivery)
        except TimeoutError:
            return SendResult(False, f"timed out after {timeout:g}s")
        except Exception as err:  # a sender bug must not kill the engine; it is retried
            log.exception("notifier.sender_error", delivery_id=delivery.id)
            return SendResult(False, f"{type(err).__name__}: {err}")

    def _verdict(self, delivery: Claimed, result: SendResult) -> tuple[str, float]:
        """sent, dead or retry, and in how many seconds to retry."""
        s = self._settings
        if result.ok:
            return "sent", 0.0
        if result.permanent or delivery.attempt >= s.max_attempts:
            return "dead", 0.0
        delay = backoff_seconds(
            delivery.attempt, s.backoff_base_seconds, s.backoff_cap_seconds, self._rng
        )
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, s.backoff_cap_seconds))
        return "retry", delay

    async def _drain(self) -> None:
        if not self._inflight:
            return
        tasks = list(self._inflight)
        _, pending = await asyncio.wait(tasks, timeout=self._settings.shutdown_grace_seconds)
        abandoned = [self._inflight[t].id for t in pending if t in self._inflight]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if abandoned:
            try:
                async with self._pool.acquire() as conn:
                    await repo.release(conn, abandoned, self._worker)
            except DATABASE_ERRORS as err:
                log.warning("notifier.release_failed", error=str(err), ids=abandoned)
            log.info("notifier.released", ids=abandoned)


def _report(
    delivery: Claimed, result: SendResult, state: str, delay: float, *, lease_lost: bool
) -> None:
    """Count and log a recorded attempt."""
    fields = {
        "delivery_id": delivery.id,
        "decision_id": delivery.decision_id,
        "notice_id": delivery.notice_id,
        "channel": delivery.channel,
        "recipient": delivery.recipient,
        "attempt": delivery.attempt,
        "detail": result.detail,
    }
    if lease_lost:
        log.warning("notifier.lease_lost", **fields)
    if state == "sent":
        metrics.SENT.labels(delivery.channel).inc()
        latency = (datetime.now(UTC) - delivery.created_at).total_seconds()
        metrics.DELIVERY_LATENCY.labels(delivery.channel).observe(max(latency, 0.0))
        log.info("notifier.sent", **fields)
    elif state == "retry":
        metrics.RETRIED.labels(delivery.channel).inc()
        log.info("notifier.retry", retry_in=round(delay, 3), **fields)
    else:
        metrics.DEAD.labels(delivery.channel).inc()
        log.warning("notifier.dead", **fields)
