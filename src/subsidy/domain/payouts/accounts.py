"""Double-entry accounts: every transfer debits one account and credits another by the same fen."""

# As in TigerBeetle, an account keeps its debits and credits posted, and a balance rule on an
# account refuses a transfer that would take it below zero on its normal side. Because each transfer
# adds one amount to both sides, all accounts' debits always equal all credits.

from dataclasses import dataclass, field
from enum import StrEnum

from subsidy.domain.payouts.errors import BalanceRuleBroken, InvalidTransfer
from subsidy.domain.record import record


class Side(StrEnum):
    """Which side an account's balance may not go below zero on; NONE: either."""

    CREDIT = "credit"  # credits ≥ debits: money held for someone (a budget, a payable)
    DEBIT = "debit"  # debits ≥ credits: money owed to the platform (a receivable)
    NONE = "none"


class AccountKind(StrEnum):
    """The chart of accounts (docs/payouts.md, "Accounts"); each name's parts follow the kind."""

    APPROPRIATION = "appropriation"  # channel:year, where an envelope's money comes from
    BUDGET = "budget"  # channel:year, what an envelope has left
    PAYABLE = "payable"  # channel:year:enterprise, committed to an enterprise, not yet sent
    IN_TRANSIT = "in_transit"  # channel:year, sent in a batch, the bank's result not back
    PAID_OUT = "paid_out"  # channel:year, confirmed paid by the bank
    RECEIVABLE = "receivable"  # channel:year:enterprise, owed back by the enterprise
    RECOVERY = "recovery"  # channel:year, clawbacks raised against what the channel paid
    COLLECTED = "collected"  # channel:year, refunds the enterprises paid back
    WRITTEN_OFF = "written_off"  # channel:year, receivables given up (two approvers)


RULES: dict[AccountKind, Side] = {
    AccountKind.APPROPRIATION: Side.DEBIT,
    AccountKind.BUDGET: Side.CREDIT,
    AccountKind.PAYABLE: Side.CREDIT,
    AccountKind.IN_TRANSIT: Side.CREDIT,
    AccountKind.PAID_OUT: Side.CREDIT,
    AccountKind.RECEIVABLE: Side.DEBIT,
    AccountKind.RECOVERY: Side.CREDIT,
    AccountKind.COLLECTED: Side.DEBIT,
    AccountKind.WRITTEN_OFF: Side.DEBIT,
}


def account(kind: AccountKind, channel: str, year: int, enterprise: str = "") -> str:
    """An account's name: `kind:channel:year[:enterprise]`."""
    if ":" in channel + enterprise:
        raise InvalidTransfer(f"no ':' in an account's parts: {channel!r}, {enterprise!r}")
    return f"{kind.value}:{channel}:{year}" + (f":{enterprise}" if enterprise else "")


def kind_of(name: str) -> AccountKind:
    """The kind an account name begins with."""
    return AccountKind(name.partition(":")[0])


class TransferKind(StrEnum):
    """Why money moved, each as `debit → credit` (docs/payouts.md, "Transfers")."""

    BUDGET_LOAD = "BUDGET_LOAD"  # appropriation → budget (or back, when a version lowers it)
    COMMIT = "COMMIT"  # budget → payable: an order within its envelope
    SEND = "SEND"  # payable → in transit: the order in a treasury batch
    PAY = "PAY"  # in transit → paid out: the bank confirmed it
    RETURN = "RETURN"  # in transit → payable: the bank returned it
    CLAWBACK = "CLAWBACK"  # receivable → recovery: the enterprise owes money back
    SET_OFF = "SET_OFF"  # payable → receivable: a debt settled from an order
    COLLECT = "COLLECT"  # collected → receivable: the enterprise refunded
    WRITE_OFF = "WRITE_OFF"  # written off → receivable: given up, with two approvers


@record
class Transfer:
    """One movement: `amount_fen` from the debit account to the credit account. `transfer_id`
    is its idempotency key; `ref` names the order, receivable, batch or load it belongs to."""

    transfer_id: str
    kind: TransferKind
    debit: str
    credit: str
    amount_fen: int
    ref: str


@dataclass(slots=True)
class Balance:
    """What an account has posted on each side."""

    debits_fen: int = 0
    credits_fen: int = 0

    @property
    def credit_balance(self) -> int:
        """credits − debits: what the account holds for someone."""
        return self.credits_fen - self.debits_fen


def rule_holds(kind: AccountKind, balance: Balance) -> bool:
    """Does the account's balance rule hold?"""
    side = RULES[kind]
    if side is Side.CREDIT:
        return balance.credits_fen >= balance.debits_fen
    if side is Side.DEBIT:
        return balance.debits_fen >= balance.credits_fen
    return True


@dataclass(slots=True)
class Accounts:
    """Every account's balance and the transfers that made them, in order."""

    balances: dict[str, Balance] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)

    def balance(self, name: str) -> Balance:
        """The account's balance (zero for one never used)."""
        return self.balances.get(name) or Balance()

    def credit_balance(self, name: str) -> int:
        """credits − debits of the account."""
        return self.balance(name).credit_balance

    def post(self, t: Transfer) -> bool:
        """Apply a transfer; False if its id was applied already. Guards raise before any
        change: a positive amount, two different known accounts, every balance rule after."""
        seen = self.transfers.get(t.transfer_id)
        if seen is not None:
            if seen != t:
                raise InvalidTransfer(f"transfer {t.transfer_id} reused for another movement")
            return False
        self._guard_shape(t)
        debit, credit = self.balance(t.debit), self.balance(t.credit)
        after_debit = Balance(debit.debits_fen + t.amount_fen, debit.credits_fen)
        after_credit = Balance(credit.debits_fen, credit.credits_fen + t.amount_fen)
        for name, after in ((t.debit, after_debit), (t.credit, after_credit)):
            if not rule_holds(kind_of(name), after):
                raise BalanceRuleBroken(
                    f"{t.kind.value} {t.transfer_id}: {name} would go below zero"
                    f" ({after.credit_balance} fen on its credit side)"
                )
        self.balances[t.debit], self.balances[t.credit] = after_debit, after_credit
        self.transfers[t.transfer_id] = t
        return True

    @staticmethod
    def _guard_shape(t: Transfer) -> None:
        """A transfer moves a positive amount between two different accounts of the chart."""
        if t.amount_fen <= 0:
            raise InvalidTransfer(f"transfer {t.transfer_id}: amount must be positive")
        if t.debit == t.credit:
            raise InvalidTransfer(f"transfer {t.transfer_id}: debit and credit are one account")
        for name in (t.debit, t.credit):
            try:
                kind_of(name)
            except ValueError:
                raise InvalidTransfer(f"transfer {t.transfer_id}: unknown account {name}") from None

    def totals(self) -> tuple[int, int]:
        """(all debits, all credits): equal, always."""
        return (
            sum(b.debits_fen for b in self.balances.values()),
            sum(b.credits_fen for b in self.balances.values()),
        )

    def broken_rules(self) -> list[str]:
        """Accounts whose balance rule does not hold (none, unless the state was tampered)."""
        return [n for n, b in sorted(self.balances.items()) if not rule_holds(kind_of(n), b)]
