"""Who is told about a decision or a notice, on which channel, with what message (pure)."""

# A notice is a payout notice or an appeal notice.

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, Rule
from subsidy.notifier.appeal_notice_messages import audience_of, render_appeal_notice
from subsidy.notifier.messages import Audience, Language, Rendered, render
from subsidy.notifier.payout_messages import (
    BUDGET_ALERT,
    OBJECTION,
    PAID,
    RETURNED,
    Notice,
    render_notice,
)
from subsidy.notifier.subscriptions import Subscription

Channel = Literal["webhook", "email"]
CHANNELS: tuple[Channel, ...] = ("webhook", "email")
# Every mail leaves through one relay, so it is one endpoint for the concurrency limit.
SMTP_ENDPOINT = "smtp"

# Statuses where a person at a bureau has to act: fix an amount, or review a case.
_PEOPLE_STATUSES = frozenset({dpb.REFERRED, dpb.PENDING_REVIEW, dpb.REVOKED})


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to deliver, about a decision, a payout notice or an appeal notice (exactly
    one of the three ids is set); (that id, channel, recipient) is its identity."""

    decision_id: str | None
    channel: Channel
    recipient: str
    endpoint: str
    audience: Audience
    subscriber: str
    language: Language
    subject: str
    body: str
    notice_id: str | None = None
    appeal_notice_id: str | None = None


def needs_people(decision: dpb.Decision) -> bool:
    """Bureaus hear only of cases that need them: referred, pending review, clawbacks, and
    every decision a correction or a retraction changed (money they paid may move)."""
    return (
        decision.status in _PEOPLE_STATUSES
        or decision.clawback_fen > 0
        or decision.HasField("correction")
    )


def rule_of(decision: dpb.Decision | dpb.AppealNotice, catalog: Catalog) -> Rule | None:
    """The catalog's rule, or None when this catalog does not know it (another version)."""
    try:
        return catalog.rule(decision.rule_id)
    except KeyError:
        return None


def responsible_units(
    decision: dpb.Decision | dpb.AppealNotice, catalog: Catalog
) -> tuple[str, ...]:
    """The rule's 责任单位 from the catalog; the decision's funding channels if the rule is
    unknown to this catalog (they were resolved from the catalog that decided it)."""
    rule = rule_of(decision, catalog)
    return rule.responsible_units if rule else tuple(decision.funding_channels)


def endpoint_of(url: str) -> str:
    """What the per-endpoint concurrency limit counts for a webhook: the subscription's URL
    (host lower-cased, default port made explicit). Per URL rather than per host, so that one
    subscriber's dead endpoint on a shared webhook gateway does not throttle its neighbours."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    rest = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}{rest}"


def plan(
    decision: dpb.Decision,
    catalog: Catalog,
    enterprise: Subscription | None,
    bureaus: Mapping[str, Subscription],
) -> list[Planned]:
    """The deliveries for one decision: the enterprise always, its bureaus when people must
    act or a correction changed it. A recipient reached twice (say, one mailbox for two
    bureaus) gets one message."""
    rule = rule_of(decision, catalog)
    targets: list[tuple[Subscription, Audience, str]] = []
    if enterprise is not None:
        targets.append((enterprise, "enterprise", decision.enterprise_name))
    if needs_people(decision):
        for unit in responsible_units(decision, catalog):
            if unit in bureaus:
                targets.append((bureaus[unit], "bureau", unit))
    seen: set[tuple[Channel, str]] = set()
    planned: list[Planned] = []
    for sub, audience, addressee in targets:
        rendered = render(decision, rule, sub.language, audience, addressee)
        planned += legs(rendered, sub, audience, seen, decision_id=decision.decision_id)
    return planned


def legs(
    rendered: Rendered,
    sub: Subscription,
    audience: Audience,
    seen: set[tuple[Channel, str]],
    *,
    decision_id: str | None = None,
    notice_id: str | None = None,
    appeal_notice_id: str | None = None,
) -> list[Planned]:
    """The subscription's webhook (the JSON body) and mail (the plain text), skipping a
    recipient already in `seen` (which this adds to)."""
    planned: list[Planned] = []
    both: tuple[tuple[Channel, str | None, str, str], ...] = (
        ("webhook", sub.webhook_url, rendered.json_body, ""),
        ("email", sub.email, rendered.text, SMTP_ENDPOINT),
    )
    for channel, recipient, body, endpoint in both:
        if recipient is None or (channel, recipient) in seen:
            continue
        seen.add((channel, recipient))
        planned.append(
            Planned(
                decision_id=decision_id,
                channel=channel,
                recipient=recipient,
                endpoint=endpoint or endpoint_of(recipient),
                audience=audience,
                subscriber=sub.subscriber,
                language=sub.language,
                subject=rendered.subject,
                body=body,
                notice_id=notice_id,
                appeal_notice_id=appeal_notice_id,
            )
        )
    return planned


def notice_recipient(notice: Notice) -> tuple[Audience, str] | None:
    """Who hears of a payout notice: the enterprise of a PAID or RETURNED order, the bureau
    subscribed as the channel of a BUDGET_ALERT or an OBJECTION. Nobody hears of SENT: an
    order going into a batch would be a message a day per enterprise for nothing it can act
    on (too chatty); the enterprise hears when the bank confirms or returns it."""
    n = notice.notice
    if n.kind in (PAID, RETURNED) and n.enterprise_id:
        return "enterprise", n.enterprise_id
    if n.kind in (BUDGET_ALERT, OBJECTION):  # the paying bureau reviews its awards
        return "bureau", n.channel
    return None


def plan_notice(
    notice: Notice, enterprises: Mapping[str, Subscription], bureaus: Mapping[str, Subscription]
) -> list[Planned]:
    """The deliveries for one payout notice: none for SENT, none when its recipient has no
    subscription."""
    recipient = notice_recipient(notice)
    if recipient is None:
        return []
    audience, subscriber = recipient
    sub = (enterprises if audience == "enterprise" else bureaus).get(subscriber)
    if sub is None:
        return []
    n = notice.notice
    addressee = (n.enterprise_name or n.enterprise_id) if audience == "enterprise" else n.channel
    rendered = render_notice(notice, sub.language, audience, addressee)
    return legs(rendered, sub, audience, set(), notice_id=n.notice_id)


def appeal_notice_recipients(notice: dpb.AppealNotice, catalog: Catalog) -> tuple[str, ...]:
    """The subscribers who hear of an appeal notice: the rule's bureaus of a filing, the
    enterprise of a dismissal or an upheld appeal, nobody of a reopening (its decision does)."""
    audience = audience_of(notice)
    if audience == "bureau":
        return responsible_units(notice, catalog)
    return (notice.enterprise_id,) if audience == "enterprise" else ()


def plan_appeal_notice(
    notice: dpb.AppealNotice,
    catalog: Catalog,
    enterprises: Mapping[str, Subscription],
    bureaus: Mapping[str, Subscription],
) -> list[Planned]:
    """The deliveries for one appeal notice, one message per subscribed recipient (a mailbox
    two bureaus share gets one)."""
    audience = audience_of(notice)
    if audience is None:
        return []
    rule = rule_of(notice, catalog)
    subs = enterprises if audience == "enterprise" else bureaus
    seen: set[tuple[Channel, str]] = set()
    planned: list[Planned] = []
    for subscriber in appeal_notice_recipients(notice, catalog):
        sub = subs.get(subscriber)
        if sub is None:
            continue
        addressee = subscriber
        if audience == "enterprise":
            addressee = notice.enterprise_name or subscriber
        rendered = render_appeal_notice(notice, rule, sub.language, audience, addressee)
        planned += legs(rendered, sub, audience, seen, appeal_notice_id=notice.notice_id)
    return planned
