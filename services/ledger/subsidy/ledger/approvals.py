"""First approvals awaiting a second reviewer: written with a batch, restored with a book."""

# Four eyes; their table is 0006_review_approvals'.

from datetime import datetime

import asyncpg

from subsidy.domain.ledger.book import EnterpriseBook
from subsidy.domain.ledger.records import Approval, Outcome


class ApprovalRows:
    """One batch's first approvals recorded and settled, written by `flush`."""

    # An entitlement may wait twice in one batch (a rejection ends a wait, an upheld appeal
    # reopens it, a first approval waits again) and at most one row of it may wait (0010's
    # unique index): a wait the batch records and ends is written settled, and a wait from
    # before the batch is settled before the batch's own are inserted.

    def __init__(self) -> None:
        # (enterprise id, the approval, the event that settled it in this batch or None)
        self.recorded: list[tuple[str, Approval, str | None]] = []
        self.settled: list[tuple[str, str]] = []  # waits from before the batch: (id, by)
        self._waiting: dict[str, int] = {}  # entitlement id → its wait in `recorded`

    def add(self, enterprise_id: str, outcome: Outcome) -> None:
        """What one applied event (and the reviews it released) did to the waits."""
        # Within one outcome a wait is recorded before it is settled: only a released review
        # can settle one, and a released review's entitlement had no wait before its event.
        for a in outcome.approvals:
            self._waiting[a.entitlement_id] = len(self.recorded)
            self.recorded.append((enterprise_id, a, None))
        for eid, by in outcome.approvals_settled:
            i = self._waiting.pop(eid, None)
            if i is None:
                self.settled.append((eid, by))
            else:
                self.recorded[i] = (*self.recorded[i][:2], by)

    async def flush(self, conn: asyncpg.Connection, at: datetime) -> None:
        """After the entitlement and inbox rows: earlier waits settled, then the batch's."""
        if self.settled:
            await conn.executemany(
                "UPDATE review_approvals SET state = 'settled', settled_by = $2, settled_at = $3"
                " WHERE entitlement_id = $1 AND state = 'waiting'",
                [(eid, by, at) for eid, by in self.settled],
            )
        if self.recorded:
            await conn.executemany(
                "INSERT INTO review_approvals (entitlement_id, enterprise_id, event_id,"
                " principal, amount_fen, approved_at, state, settled_by, settled_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [(a.entitlement_id, enterprise_id, a.event_id, a.principal, a.amount_fen, at,
                  "waiting" if by is None else "settled", by, None if by is None else at)
                 for enterprise_id, a, by in self.recorded],
            )  # fmt: skip


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
