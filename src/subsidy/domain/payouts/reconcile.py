"""Reconciliation per channel and year, every difference listed with its cause (docs/payouts.md)."""

# The orders' figures, the same figures from the accounts, and the ledger's grants.

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from subsidy.domain.payouts.accounts import AccountKind, TransferKind, kind_of
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.orders import Hold, OrderState

UNEXPLAINED = "unexplained"
# A grant the ledger booked that the payouts have not taken in yet: explained, it waits for
# the next intake.
NOT_TAKEN_IN = "decisions not yet taken in by the payouts"
ORDER_VS_LEDGER = "order vs the ledger's decision"


@dataclass(slots=True)
class Row:
    """One channel-year: granted = paid out + in batches + payable + waiting + set off, and
    receivables = collected + set off + written off + outstanding (fen)."""

    channel: str
    year: int
    granted: int = 0
    paid_out: int = 0
    in_batches: int = 0
    payable: int = 0
    waiting: dict[str, int] = field(default_factory=lambda: {h.value: 0 for h in Hold})
    set_off: int = 0
    receivables: int = 0
    collected: int = 0
    recovered_by_set_off: int = 0
    written_off: int = 0
    outstanding: int = 0
    budget: int = 0
    committed: int = 0  # the orders' amounts taken from the envelope
    unsent: int = 0  # committed, not sent: what the enterprises' payables hold

    @property
    def explained(self) -> int:
        """What the granted amount is made of."""
        return (
            self.paid_out
            + self.in_batches
            + self.payable
            + sum(self.waiting.values())
            + self.set_off
        )

    @property
    def settled(self) -> int:
        """What the receivables are made of."""
        return self.collected + self.recovered_by_set_off + self.written_off + self.outstanding


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure two sources disagree on, and why."""

    channel: str
    year: int
    figure: str
    expected_fen: int
    found_fen: int
    cause: str
    order_id: str = ""  # the order, for a figure of one order


@dataclass(frozen=True, slots=True)
class Owed:
    """A payment order the ledger's decisions make: its decision, channel, year, amount and
    the enterprise it is owed to."""

    decision_id: str
    channel: str
    year: int
    amount_fen: int
    enterprise_id: str


@dataclass(slots=True)
class Reconciliation:
    """The rows, and the differences (none unexplained is the expected state)."""

    rows: list[Row]
    differences: list[Difference]
    debits_fen: int
    credits_fen: int

    @property
    def unexplained(self) -> list[Difference]:
        """The differences no known cause explains."""
        return [d for d in self.differences if d.cause == UNEXPLAINED]


RowOf = Callable[[str, int], Row]


def reconcile(desk: PayoutDesk, owed: Mapping[str, Owed] | None = None) -> Reconciliation:
    """The reconciliation of everything the desk holds; `owed`: the orders the ledger's
    decisions make, by order id, to check every order and the intake against."""
    rows: dict[tuple[str, int], Row] = {}

    def row(channel: str, year: int) -> Row:
        return rows.setdefault((channel, year), Row(channel, year))

    _from_orders(desk, row)
    _from_receivables(desk, row)
    found = _from_accounts(desk)
    for key, amount in desk.envelopes.amounts.items():
        row(*key).budget = amount
    differences: list[Difference] = []
    for key, r in sorted(rows.items()):
        differences += _row_differences(r, found.get(key, {}))
    if owed is not None:
        differences += _against_ledger(desk, owed, rows)
    debits, credits = desk.accounts.totals()
    return Reconciliation([rows[k] for k in sorted(rows)], differences, debits, credits)


def _against_ledger(
    desk: PayoutDesk, owed: Mapping[str, Owed], rows: Mapping[tuple[str, int], Row]
) -> list[Difference]:
    """Each order against the one the ledger's decisions make: an order no decision makes, or
    for another amount, channel, year or enterprise, is unexplained (the payouts' login may
    update orders, and a change made before the budget is taken leaves the accounts agreeing
    with it); an order of a decision not taken in yet is explained: the next intake takes it."""
    out: list[Difference] = []
    for o in desk.orders.values():
        want = owed.get(o.order_id)
        if want is None or (want.channel, want.year, want.amount_fen, want.enterprise_id) != (
            o.channel, o.year, o.amount_fen, o.enterprise_id
        ):  # fmt: skip
            expected = 0 if want is None else want.amount_fen
            out.append(Difference(o.channel, o.year, ORDER_VS_LEDGER, expected, o.amount_fen,
                                  UNEXPLAINED, o.order_id))  # fmt: skip
    waiting: dict[tuple[str, int], int] = defaultdict(int)
    for oid, want in owed.items():
        if oid in desk.orders:
            continue
        if want.decision_id in desk.taken:
            out.append(Difference(want.channel, want.year, ORDER_VS_LEDGER, want.amount_fen, 0,
                                  UNEXPLAINED, oid))  # fmt: skip
        else:
            waiting[(want.channel, want.year)] += want.amount_fen
    for key, fen in sorted(waiting.items()):
        taken = rows[key].granted if key in rows else 0  # the orders' total, _from_orders
        out.append(Difference(*key, "granted", taken + fen, taken, NOT_TAKEN_IN))
    return out


def _from_orders(desk: PayoutDesk, row: RowOf) -> None:
    for o in desk.orders.values():
        r = row(o.channel, o.year)
        r.granted += o.amount_fen
        r.set_off += o.set_off_fen
        if o.state is OrderState.PAID_OUT:
            r.paid_out += o.net_fen
        elif o.state is OrderState.IN_BATCH:
            r.in_batches += o.net_fen
        elif o.state is OrderState.PAYABLE:
            r.payable += o.net_fen
        elif o.state is OrderState.WAITING and o.hold is not None:
            r.waiting[o.hold.value] += o.net_fen
        if o.committed:
            r.committed += o.amount_fen
            if o.state in (OrderState.PAYABLE, OrderState.WAITING):
                r.unsent += o.net_fen


def _from_receivables(desk: PayoutDesk, row: RowOf) -> None:
    for rec in desk.receivables.values():
        r = row(rec.channel, rec.year)
        r.receivables += rec.amount_fen
        r.collected += rec.collected_fen
        r.recovered_by_set_off += rec.set_off_fen
        r.written_off += rec.written_off_fen
        r.outstanding += rec.outstanding_fen


def _from_accounts(desk: PayoutDesk) -> dict[tuple[str, int], dict[str, int]]:
    """The same figures as the accounts hold them, by channel-year."""
    found: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, b in desk.accounts.balances.items():
        _, channel, year, *_ = name.split(":")
        figures = found[(channel, int(year))]
        kind = kind_of(name)
        if kind in (AccountKind.PAID_OUT, AccountKind.IN_TRANSIT, AccountKind.PAYABLE,
                    AccountKind.RECOVERY):  # fmt: skip
            figures[kind.value] += b.credit_balance
        elif kind in (AccountKind.RECEIVABLE, AccountKind.COLLECTED, AccountKind.WRITTEN_OFF):
            figures[kind.value] += -b.credit_balance
    for t in desk.accounts.transfers.values():
        if t.kind is TransferKind.COMMIT:
            _, channel, year = t.debit.split(":")
            found[(channel, int(year))]["committed"] += t.amount_fen
    return found


def _row_differences(r: Row, acct: Mapping[str, int]) -> list[Difference]:
    """Each identity of the row, and each figure against its account."""
    pairs = [
        ("granted = paid out + in batches + payable + waiting + set off", r.granted, r.explained),
        ("receivables = collected + set off + written off + outstanding", r.receivables, r.settled),
        ("paid out (orders vs accounts)", r.paid_out, acct.get("paid_out", 0)),
        ("in batches (orders vs accounts)", r.in_batches, acct.get("in_transit", 0)),
        ("committed, not sent (orders vs accounts)", r.unsent, acct.get("payable", 0)),
        ("committed from budget (orders vs accounts)", r.committed, acct.get("committed", 0)),
        ("receivables raised (records vs accounts)", r.receivables, acct.get("recovery", 0)),
        ("outstanding (records vs accounts)", r.outstanding, acct.get("receivable", 0)),
        ("collected (records vs accounts)", r.collected, acct.get("collected", 0)),
        ("written off (records vs accounts)", r.written_off, acct.get("written_off", 0)),
    ]
    return [
        Difference(r.channel, r.year, name, a, b, UNEXPLAINED) for name, a, b in pairs if a != b
    ]
