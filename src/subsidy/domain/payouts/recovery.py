"""Clawback recovery: refunds collected, write-offs with two approvers, and the ageing report."""

from dataclasses import dataclass
from datetime import date

from subsidy.domain.payouts.accounts import AccountKind, Transfer, TransferKind, account
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import RecoveryRefused
from subsidy.domain.payouts.orders import Receivable
from subsidy.domain.record import record

# Ageing buckets by days outstanding (upper bounds; the last is open).
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-30", 30), ("31-90", 90), ("91-180", 180), ("181-365", 365), (">365", None),
)  # fmt: skip


@record
class WriteOffApproval:
    """One approver's consent to write an amount of a receivable off."""

    receivable_id: str
    amount_fen: int
    principal: str
    reason: str


def _receivable(desk: PayoutDesk, receivable_id: str, amount_fen: int) -> Receivable:
    """The receivable, if it has `amount_fen` (positive) outstanding."""
    r = desk.receivables.get(receivable_id)
    if r is None:
        raise RecoveryRefused(f"no receivable {receivable_id!r}")
    if not 0 < amount_fen <= r.outstanding_fen:
        raise RecoveryRefused(
            f"{receivable_id}: {amount_fen} fen, but {r.outstanding_fen} fen is outstanding"
        )
    return r


def collect(desk: PayoutDesk, receivable_id: str, amount_fen: int, ref: str) -> bool:
    """A refund the treasury confirmed (`ref`, its voucher: one refund is applied once); False
    when this voucher was collected on this receivable before (nothing changes)."""
    tid = f"collect:{receivable_id}:{ref}"
    seen = desk.accounts.transfers.get(tid)
    if seen is not None:
        # Entered again: the transfer is not posted twice, so neither may the receivable count
        # the refund twice (it would look settled while its account is still owed).
        if seen.amount_fen != amount_fen:
            raise RecoveryRefused(f"voucher {ref!r} was collected as {seen.amount_fen} fen")
        return False
    r = _receivable(desk, receivable_id, amount_fen)
    desk.post(Transfer(tid, TransferKind.COLLECT,
                       account(AccountKind.COLLECTED, r.channel, r.year),
                       account(AccountKind.RECEIVABLE, r.channel, r.year, r.enterprise_id),
                       amount_fen, receivable_id))  # fmt: skip
    r.collected_fen += amount_fen
    desk.changes.receivables.add(receivable_id)
    return True


def write_off(desk: PayoutDesk, first: WriteOffApproval, second: WriteOffApproval) -> None:
    """Give a receivable up: two different approvers, the same receivable and amount."""
    if first.principal == second.principal:
        raise RecoveryRefused(f"{first.receivable_id}: a write-off needs two different approvers")
    if (first.receivable_id, first.amount_fen) != (second.receivable_id, second.amount_fen):
        raise RecoveryRefused(
            f"{second.receivable_id}: the second approval is for another write-off"
        )
    r = _receivable(desk, first.receivable_id, first.amount_fen)
    desk.post(Transfer(f"writeoff:{r.receivable_id}:{r.written_off_fen}", TransferKind.WRITE_OFF,
                       account(AccountKind.WRITTEN_OFF, r.channel, r.year),
                       account(AccountKind.RECEIVABLE, r.channel, r.year, r.enterprise_id),
                       first.amount_fen, r.receivable_id))  # fmt: skip
    r.written_off_fen += first.amount_fen
    desk.changes.receivables.add(r.receivable_id)


@dataclass(slots=True)
class AgeingRow:
    """Outstanding receivables of a channel by age bucket, in fen."""

    channel: str
    buckets: dict[str, int]

    @property
    def total_fen(self) -> int:
        """All outstanding."""
        return sum(self.buckets.values())


def bucket_of(days: int) -> str:
    """The bucket a receivable outstanding for `days` falls in."""
    for name, upper in BUCKETS:
        if upper is None or days <= upper:
            return name
    raise AssertionError("the last bucket is open")


def ageing(desk: PayoutDesk, as_of: date) -> list[AgeingRow]:
    """Outstanding receivables by channel and age as of a day."""
    rows: dict[str, AgeingRow] = {}
    for r in desk.receivables.values():
        if r.outstanding_fen <= 0:
            continue
        row = rows.setdefault(r.channel, AgeingRow(r.channel, {n: 0 for n, _ in BUCKETS}))
        row.buckets[bucket_of(max(0, (as_of - r.raised_on).days))] += r.outstanding_fen
    return [rows[c] for c in sorted(rows)]
