"""Exactly once at the receivers: every planned notification arrived, repeats with its id."""

# The notifier is at-least-once (a kill between sending and recording sends again); a repeat carries
# the same webhook-id or Message-ID, so the receiver drops it.

from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from subsidy.harness.inboxes import Inboxes
from subsidy.notifier.delivery import message_id


@dataclass(frozen=True)
class Arrivals:
    """One channel: what the notifier planned against what the receiver got, by stable id."""

    channel: str
    planned: int
    distinct: int  # ids that arrived at least once
    repeats: int  # arrivals beyond the first of an id: dropped by the receiver
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and self.distinct == self.planned


def compare_ids(channel: str, planned: Counter[str], received: Counter[str]) -> Arrivals:
    """Planned ids against received ones; an id planned n times must arrive n times or more."""
    missing = sorted(k for k, n in planned.items() if received[k] < n)
    unexpected = sorted(k for k in received if k not in planned)
    repeats = sum(max(0, n - planned[k]) for k, n in received.items() if k in planned)
    distinct = sum(min(n, planned[k]) for k, n in received.items() if k in planned)
    return Arrivals(channel, sum(planned.values()), distinct, repeats, missing, unexpected)


async def check_arrivals(
    conn: asyncpg.Connection, inboxes: Inboxes, sender: str
) -> tuple[Arrivals, Arrivals]:
    """Webhooks by webhook-id (the decision's or payout notice's id), mail by Message-ID
    (that id and the mailbox), against every delivery the notifier planned."""
    rows = await conn.fetch(
        "SELECT coalesce(decision_id, notice_id) AS about, channel, recipient"
        " FROM notifier_deliveries"
    )
    hooks = Counter(r["about"] for r in rows if r["channel"] == "webhook")
    mails = Counter(
        message_id(r["about"], r["recipient"], sender) for r in rows if r["channel"] == "email"
    )
    received_mails = Counter(m["message_id"] for m in inboxes.mails)
    return compare_ids("webhook", hooks, inboxes.webhooks), compare_ids(
        "email", mails, received_mails
    )


async def delivery_states(conn: asyncpg.Connection) -> dict[str, int]:
    """Deliveries by state: in the end every one must be `sent`, none `dead` or `pending`."""
    rows = await conn.fetch("SELECT state, count(*) n FROM notifier_deliveries GROUP BY 1")
    return {r["state"]: r["n"] for r in rows}


async def unheard_decisions(conn: asyncpg.Connection) -> int:
    """Decisions the ledger published (its outbox) that never reached the notifier."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM outbox o WHERE NOT EXISTS"
        " (SELECT 1 FROM notifier_decisions n WHERE n.decision_id = o.decision_id)"
    )
    return count
