"""Stand-ins for the enterprises' and bureaus' inboxes in the main job. Loopback only."""

# A webhook receiver that checks every signature, and an SMTP server that keeps the mail.

from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from subsidy.harness.processes import free_port


@dataclass
class Inboxes:
    """What arrived: webhooks by webhook-id (a repeat is counted apart), and mail (with its
    Message-ID, which a repeat shares). `secret` is the subscribers' whsec_ secret."""

    secret: str
    webhooks: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    mails: list[dict[str, str]] = field(default_factory=list)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        try:
            # The Standard Webhooks library checks the signature and the timestamp (within
            # five minutes), as a subscriber's receiver would.
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        self.webhooks[request.headers["webhook-id"]] += 1
        return web.Response(status=204)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook: keep the mail."""
        mail = message_from_bytes(envelope.content)
        self.mails.append({"to": ",".join(envelope.rcpt_tos), "subject": str(mail["Subject"]),
                           "message_id": str(mail["Message-ID"])})  # fmt: skip
        return "250 OK"

    @property
    def duplicate_webhooks(self) -> int:
        return sum(n - 1 for n in self.webhooks.values() if n > 1)


class RunningInboxes:
    """The two servers, started on free loopback ports."""

    def __init__(self, inboxes: Inboxes) -> None:
        self.inboxes = inboxes
        self._runner: web.AppRunner | None = None
        self._smtp: Any = None
        self.webhook_url = ""
        self.smtp_port = 0

    async def start(self) -> None:
        from aiosmtpd.controller import Controller  # the demo's local mail server only

        app = web.Application()
        app.router.add_post("/hook", self.inboxes._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.webhook_url = f"http://127.0.0.1:{port}/hook"
        self.smtp_port = free_port()
        self._smtp = Controller(self.inboxes, hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._runner is not None:
            await self._runner.cleanup()
