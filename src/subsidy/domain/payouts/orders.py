"""What the payouts hold: grants and clawbacks taken in, payment orders, receivables, payees."""

import hashlib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from subsidy.domain.record import record


class OrderState(StrEnum):
    """A payment order's state (免申即享: 待推送 → 已推送 → 发放中 → 已发放 / 退回)."""

    WAITING = "WAITING"  # 待推送, held for the reason in `hold`
    PAYABLE = "PAYABLE"  # 待推送, ready for the next batch of its channel
    IN_BATCH = "IN_BATCH"  # 已推送 / 发放中: in a batch, the bank's result not back
    PAID_OUT = "PAID_OUT"  # 已发放
    SETTLED = "SETTLED"  # 已抵扣: all of it set off against debts, nothing to send


class Hold(StrEnum):
    """Why a payment order waits (the reconciliation's "waiting" by reason)."""

    NEW = "NEW"  # 待处理: taken in, not yet through its holds
    PUBLICITY = "PUBLICITY"  # 公示中: on public notice
    OBJECTION = "OBJECTION"  # 异议待复核: an objection in the notice period, routed to review
    BUDGET = "BUDGET"  # 预算不足: its envelope has no room (first come, first served)
    NO_ACCOUNT = "NO_ACCOUNT"  # 无收款账户: the enterprise registered no account
    RETURNED = "RETURNED"  # 银行退回: waits for an account other than the one returned


HOLDS_ZH = {
    Hold.NEW: "待处理",
    Hold.PUBLICITY: "公示中",
    Hold.OBJECTION: "异议待复核",
    Hold.BUDGET: "预算不足",
    Hold.NO_ACCOUNT: "无收款账户",
    Hold.RETURNED: "银行退回",
}


def order_id(decision_id: str, level: str) -> str:
    """业务流水号: short, ASCII and fixed by the decision and the level it pays, so a grant
    taken in twice makes one order (80 bits: no two of a city's orders meet)."""
    digest = hashlib.sha256(f"{decision_id}|{level}".encode()).hexdigest()[:20].upper()
    return f"PO{digest}"


@record
class Grant:
    """A decision that gave an enterprise cash (its `cashDeltaFen`), as the ledger booked it."""

    decision_id: str
    entitlement_id: str
    enterprise_id: str
    enterprise_name: str
    district: str
    rule_id: str
    year: int
    cash_fen: int
    occurred_on: date  # the entitlement's fact: the policy version its terms come from
    decided_on: date  # the day of the event that decided it: public notice starts here


@record
class Clawback:
    """Cash paid under an entitlement that the enterprise owes back (a CLAWBACK entry)."""

    clawback_id: str  # the journal entry, `<enterpriseId>#<seq>`
    entitlement_id: str
    enterprise_id: str
    district: str
    rule_id: str
    year: int
    amount_fen: int
    occurred_on: date
    raised_on: date


@record
class PayeeAccount:
    """An enterprise's account for payouts (the latest registration counts)."""

    enterprise_id: str
    bank_name: str
    account_number: str
    account_name: str
    registered_on: date
    event_id: str


@record
class Objection:
    """An objection (异议) against an award, filed on a day."""

    event_id: str
    entitlement_id: str
    filed_on: date
    reason: str


@record
class PayoutNotice:
    """Something an enterprise or a bureau is told: an order SENT to the bank, PAID (已发放),
    RETURNED (退回, with the bank's reason), or a BUDGET_ALERT on an envelope (80 or 100)."""

    notice_id: str  # its idempotency key
    kind: str
    channel: str
    year: int
    amount_fen: int
    enterprise_id: str = ""  # none for a bureau's alert
    enterprise_name: str = ""
    order_id: str = ""
    batch_id: str = ""
    reason: str = ""


@dataclass(slots=True)
class PaymentOrder:
    """One payment to one enterprise from one channel; `seq` is its place in first-come order."""

    order_id: str
    decision_id: str
    entitlement_id: str
    enterprise_id: str
    enterprise_name: str
    district: str
    rule_id: str
    year: int
    channel: str
    level: str  # "city" or "district" (财政体制)
    amount_fen: int
    decided_on: date
    notice_until: date | None  # on notice before this day (公示), None when not noticed
    seq: int
    state: OrderState = OrderState.WAITING
    hold: Hold | None = Hold.NEW
    committed: bool = False  # its amount moved from the budget to the enterprise's payable
    set_off_fen: int = 0
    batch_id: str = ""
    paid_on: date | None = None
    return_reason: str = ""
    returned_account: str = ""

    @property
    def net_fen(self) -> int:
        """What is left to send once debts are set off."""
        return self.amount_fen - self.set_off_fen


@dataclass(slots=True)
class Receivable:
    """What an enterprise owes back to one channel, and how it was settled so far."""

    receivable_id: str
    entitlement_id: str
    enterprise_id: str
    channel: str
    year: int
    amount_fen: int
    raised_on: date
    set_off_fen: int = 0
    collected_fen: int = 0
    written_off_fen: int = 0

    @property
    def outstanding_fen(self) -> int:
        """Still owed."""
        return self.amount_fen - self.set_off_fen - self.collected_fen - self.written_off_fen
