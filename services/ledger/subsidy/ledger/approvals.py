"""First approvals awaiting a second reviewer (four eyes, 0006_review_approvals): written with
a batch, restored with a book."""

from datetime import datetime

import asyncpg

from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.records import Approval, Outcome


class ApprovalRows:
    """One batch's first approvals recorded and settled, written by `flush`."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Approval]] = []  # (enterprise id, the approval)
        self.settled: list[tuple[str, str]] = []  # (entitlement id, the event that settled it)

    def add(self, enterprise_id: str, outcome: Outcome) -> None:
        """What one applied event (and the reviews it released) did to the waits."""
        self.recorded.extend((enterprise_id, a) for a in outcome.approvals)
        self.settled.extend(outcome.approvals_settled)

    async def flush(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the entitlement and inbox rows: insert the new waits, then settle the ended."""
        if self.recorded:
            await conn.executemany(
                "INSERT INTO review_approvals (entitlement_id, enterprise_id, event_id,"
                " principal, amount_fen, approved_at) VALUES ($1, $2, $3, $4, $5, $6)",
                [(a.entitlement_id, enterprise_id, a.event_id, a.principal, a.amount_fen, at)
                 for enterprise_id, a in self.recorded],
            )  # fmt: skip
        if self.settled:
            await conn.executemany(
                "UPDATE review_approvals SET state = 'settled', settled_by = $2, settled_at = $3"
                " WHERE entitlement_id = $1 AND state = 'waiting'",
                [(eid, by, at) for eid, by in self.settled],
            )


async def restore(conn: asyncpg.Connection, books: dict[str, EnterpriseBook]) -> None:
    """The waiting first approvals of these books' enterprises."""
    for row in await conn.fetch(
        "SELECT enterprise_id, entitlement_id, event_id, principal, amount_fen"
        " FROM review_approvals WHERE enterprise_id = ANY($1::text[]) AND state = 'waiting'",
        list(books),
    ):
        books[row["enterprise_id"]].awaiting[row["entitlement_id"]] = Approval(
            row["entitlement_id"], row["event_id"], row["principal"], row["amount_fen"]
        )
