"""Budget envelopes per channel and year: versioned loads, and alerts at 80% and 100%."""

from dataclasses import dataclass, field
from decimal import Decimal

from subsidy.domain.money import apply_rate
from subsidy.domain.payouts.accounts import AccountKind, Accounts, Transfer, TransferKind, account
from subsidy.domain.payouts.errors import BudgetRefused
from subsidy.domain.record import record

# An alert when an envelope's commitments reach 80% of it, and when it can fit no more.
WARN_AT = Decimal("0.8")


@record
class EnvelopeLine:
    """One line of a budget file: the envelope of a channel for a year, in fen."""

    line: int
    channel: str
    year: int
    amount_fen: int


@record
class Alert:
    """An envelope crossed a threshold: 80 (its commitments reached 80%) or 100 (an order
    waits for room it does not have)."""

    channel: str
    year: int
    threshold: int
    used_fen: int
    amount_fen: int


@dataclass(slots=True)
class Envelopes:
    """Each envelope's amount as last loaded, the loads so far, and the alerts raised."""

    amounts: dict[tuple[str, int], int] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)  # the loaded files' digests, in order
    raised: set[tuple[str, int, int]] = field(default_factory=set)
    pending: list[Alert] = field(default_factory=list)

    def load(self, digest: str, lines: list[EnvelopeLine], accounts: Accounts) -> list[Transfer]:
        """A budget file as a new version: each envelope it names set to its amount. A file
        loaded before is a no-op; one that would cut an envelope below what is committed
        from it is refused whole, naming the line."""
        if digest in self.versions:
            return []
        seen: dict[tuple[str, int], int] = {}
        for ln in lines:
            key = (ln.channel, ln.year)
            if key in seen:
                raise BudgetRefused(
                    f"line {ln.line}: {ln.channel} {ln.year} also on line {seen[key]}"
                )
            seen[key] = ln.line
            used = self.amounts.get(key, 0) - accounts.credit_balance(_budget(*key))
            if ln.amount_fen < used:
                raise BudgetRefused(
                    f"line {ln.line}: {ln.channel} {ln.year} has {used} fen committed already,"
                    f" more than the {ln.amount_fen} fen loaded"
                )
        version = len(self.versions) + 1
        transfers = [t for ln in lines if (t := self._change(ln, version)) is not None]
        self.versions.append(digest)
        return transfers

    def _change(self, ln: EnvelopeLine, version: int) -> Transfer | None:
        """The transfer that takes the envelope to its new amount (none if unchanged)."""
        key = (ln.channel, ln.year)
        delta = ln.amount_fen - self.amounts.get(key, 0)
        self.amounts[key] = ln.amount_fen
        if delta == 0:
            return None
        source = account(AccountKind.APPROPRIATION, ln.channel, ln.year)
        budget = _budget(ln.channel, ln.year)
        debit, credit = (source, budget) if delta > 0 else (budget, source)
        ref = f"budget-v{version}"
        return Transfer(f"{ref}:{ln.channel}:{ln.year}", TransferKind.BUDGET_LOAD, debit, credit,
                        abs(delta), ref)  # fmt: skip

    def used(self, channel: str, year: int, accounts: Accounts) -> None:
        """After a commitment: the 80% alert, once per envelope."""
        amount = self.amounts.get((channel, year), 0)
        used = amount - accounts.credit_balance(_budget(channel, year))
        if amount and used >= apply_rate(amount, WARN_AT):
            self._raise(Alert(channel, year, 80, used, amount))

    def short(self, channel: str, year: int, accounts: Accounts) -> None:
        """An order waits for room: the 100% alert, once per envelope."""
        amount = self.amounts.get((channel, year), 0)
        used = amount - accounts.credit_balance(_budget(channel, year))
        self._raise(Alert(channel, year, 100, used, amount))

    def _raise(self, alert: Alert) -> None:
        key = (alert.channel, alert.year, alert.threshold)
        if key not in self.raised:
            self.raised.add(key)
            self.pending.append(alert)

    def drain_alerts(self) -> list[Alert]:
        """Alerts raised since the last drain."""
        out, self.pending = self.pending, []
        return out


def _budget(channel: str, year: int) -> str:
    return account(AccountKind.BUDGET, channel, year)
