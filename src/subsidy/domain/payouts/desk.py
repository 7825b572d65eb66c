"""The payout desk: grants become payment orders, clawbacks receivables; `advance` moves orders."""

# `advance` moves each order through its holds (公示, objection, budget, set-off, account) in
# first-come order.
#
# The desk is pure and whole: `simulate` and the payouts service run the same steps, the service on
# a desk it loads from PostgreSQL and whose changes (`drain`) it writes back in one transaction.
# Guards raise a PayoutError before anything changes.

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from subsidy.domain.catalog import Catalog, Rule
from subsidy.domain.payouts import funding
from subsidy.domain.payouts.accounts import AccountKind, Accounts, Transfer, TransferKind, account
from subsidy.domain.payouts.batches import Batch
from subsidy.domain.payouts.budget import Alert, EnvelopeLine, Envelopes
from subsidy.domain.payouts.errors import PayoutError
from subsidy.domain.payouts.orders import (
    Clawback,
    Grant,
    Hold,
    Objection,
    OrderState,
    PayeeAccount,
    PaymentOrder,
    PayoutNotice,
    Receivable,
    order_id,
)

OPEN = (OrderState.WAITING, OrderState.PAYABLE)


@dataclass(slots=True)
class Changes:
    """What the desk changed since the last drain: what the service must write."""

    transfers: list[Transfer] = field(default_factory=list)
    orders: set[str] = field(default_factory=set)
    receivables: set[str] = field(default_factory=set)
    alerts: list[Alert] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    taken: list[tuple[str, str]] = field(default_factory=list)  # (source id, grant|clawback)
    loads: list[tuple[int, str, list[EnvelopeLine]]] = field(default_factory=list)  # versions
    notices: list[PayoutNotice] = field(default_factory=list)


class PayoutDesk:
    """Every order, receivable, payee account, objection and envelope, and the accounts."""

    def __init__(self, catalog: Catalog, set_off: bool = True) -> None:
        self.catalog = catalog
        self.set_off = set_off
        self.accounts = Accounts()
        self.envelopes = Envelopes()
        self.orders: dict[str, PaymentOrder] = {}  # in first-come order
        self.receivables: dict[str, Receivable] = {}  # in the order they were raised
        self.payees: dict[str, PayeeAccount] = {}  # the latest account by enterprise
        self.objections: dict[str, list[Objection]] = defaultdict(list)  # by entitlement
        self.batches: dict[str, Batch] = {}
        self.dismissed: set[str] = set()  # objections a bureau dismissed, by event id
        # Running totals by entitlement: the city's part of each amount is cut from them.
        self.cash_by_entitlement: dict[str, int] = defaultdict(int)
        self.clawed_by_entitlement: dict[str, int] = defaultdict(int)
        self.taken: set[str] = set()  # grants and clawbacks taken in, by id
        self.changes = Changes()

    # ---- writes every step goes through ----------------------------------------------------

    def post(self, t: Transfer) -> None:
        """Apply a transfer and remember it for the service."""
        if self.accounts.post(t):
            self.changes.transfers.append(t)

    def touch(self, o: PaymentOrder) -> None:
        """Remember a changed order."""
        self.changes.orders.add(o.order_id)

    def drain(self) -> Changes:
        """The changes since the last drain, forgotten here."""
        out, self.changes = self.changes, Changes()
        for a in self.envelopes.drain_alerts():
            out.alerts.append(a)
            key = f"alert:{a.channel}:{a.year}:{a.threshold}"
            reason = f"{a.threshold}% of {a.amount_fen}"
            out.notices.append(
                PayoutNotice(key, "BUDGET_ALERT", a.channel, a.year, a.used_fen, reason=reason)
            )
        return out

    def notify(self, kind: str, o: PaymentOrder, batch_id: str, reason: str = "") -> None:
        """Tell the enterprise what happened to an order in a batch."""
        self.changes.notices.append(
            PayoutNotice(f"{kind.lower()}:{o.order_id}:{batch_id}", kind, o.channel, o.year,
                         o.net_fen, o.enterprise_id, o.enterprise_name, o.order_id, batch_id,
                         reason)
        )  # fmt: skip

    # ---- taking in what the ledger decided ---------------------------------------------------

    def take_grant(self, g: Grant) -> list[PaymentOrder]:
        """A grant's payment orders, one per level with a part (taken once: by decision)."""
        if g.decision_id in self.taken or g.cash_fen <= 0:
            return []
        rule = self.catalog.at(g.occurred_on).rule(g.rule_id)
        parts = self._take(g.decision_id, "grant", self.cash_by_entitlement, g.entitlement_id,
                           g.cash_fen, rule, g.district)  # fmt: skip
        notice = g.decided_on + timedelta(days=rule.publicity_days) if rule.publicity_days else None
        made = []
        for level, fen in parts.items():
            o = PaymentOrder(
                order_id=order_id(g.decision_id, level), decision_id=g.decision_id,
                entitlement_id=g.entitlement_id, enterprise_id=g.enterprise_id,
                enterprise_name=g.enterprise_name, district=g.district, rule_id=g.rule_id,
                year=g.year, channel=funding.channel_of(rule, g.district, level), level=level,
                amount_fen=fen, decided_on=g.decided_on, notice_until=notice,
                seq=len(self.orders) + 1,
            )  # fmt: skip
            self.orders[o.order_id] = o
            self.touch(o)
            made.append(o)
        return made

    def take_clawback(self, c: Clawback) -> list[Receivable]:
        """A clawback's receivables, one per channel that paid a part (taken once: by entry)."""
        if c.clawback_id in self.taken:
            return []
        rule = self.catalog.at(c.occurred_on).rule(c.rule_id)
        parts = self._take(c.clawback_id, "clawback", self.clawed_by_entitlement,
                           c.entitlement_id, c.amount_fen, rule, c.district)  # fmt: skip
        made = []
        for level, fen in parts.items():
            channel = funding.channel_of(rule, c.district, level)
            r = Receivable(f"{c.clawback_id}/{level}", c.entitlement_id, c.enterprise_id,
                           channel, c.year, fen, c.raised_on)  # fmt: skip
            self.post(
                Transfer(f"claw:{r.receivable_id}", TransferKind.CLAWBACK,
                         account(AccountKind.RECEIVABLE, channel, c.year, c.enterprise_id),
                         account(AccountKind.RECOVERY, channel, c.year), fen, r.receivable_id)
            )  # fmt: skip
            self.receivables[r.receivable_id] = r
            self.changes.receivables.add(r.receivable_id)
            made.append(r)
        return made

    def load_budget(self, digest: str, lines: list[EnvelopeLine]) -> int:
        """A budget file (by its digest) as the envelopes' new version; the transfers made."""
        if digest in self.envelopes.versions:
            return 0
        transfers = self.envelopes.load(digest, lines, self.accounts)
        for t in transfers:
            self.post(t)
        self.changes.loads.append((len(self.envelopes.versions), digest, lines))
        return len(transfers)

    def _take(
        self, source: str, kind: str, running: dict[str, int], entitlement: str, fen: int,
        rule: Rule, district: str,
    ) -> dict[str, int]:  # fmt: skip
        """Take a grant or a clawback in once: its parts by level, cut on the entitlement's
        running total of that kind."""
        before = running[entitlement]
        running[entitlement] = before + fen
        self.taken.add(source)
        self.changes.taken.append((source, kind))
        return funding.split(rule, district, before, before + fen)

    def register_payee(self, p: PayeeAccount) -> None:
        """An enterprise's account for payouts from now on (the earlier ones stay recorded)."""
        self.payees[p.enterprise_id] = p

    def file_objection(self, o: Objection) -> None:
        """An objection against an award; it holds the award's orders if filed on notice."""
        self.objections[o.entitlement_id].append(o)

    def dismiss_objection(self, event_id: str) -> None:
        """A bureau reviewed an objection and dismissed it: it holds nothing any more."""
        if not any(o.event_id == event_id for os in self.objections.values() for o in os):
            raise PayoutError(f"no objection {event_id!r}")
        self.dismissed.add(event_id)

    # ---- moving orders on ------------------------------------------------------------------

    def advance(self, as_of: date) -> None:
        """Every open order, first come first, through its holds as of `as_of`. An envelope
        that could not fit an order serves no later order in this pass (first come)."""
        blocked: set[tuple[str, int]] = set()
        for o in self.orders.values():
            if o.state in OPEN:
                before = (o.state, o.hold, o.set_off_fen)
                self._advance(o, as_of, blocked)
                if (o.state, o.hold, o.set_off_fen) != before:
                    self.touch(o)
                if o.hold is Hold.OBJECTION and before[1] is not Hold.OBJECTION:
                    self._to_review(o)

    def _advance(self, o: PaymentOrder, as_of: date, blocked: set[tuple[str, int]]) -> None:
        """One order's holds in turn; the first that holds it is its reason to wait."""
        hold = self._notice_hold(o, as_of)
        if hold is None and not o.committed:
            hold = self._commit(o, blocked)
        if hold is None:
            self._set_off(o)
            if o.net_fen == 0:
                o.state, o.hold = OrderState.SETTLED, None
                return
            hold = self._account_hold(o)
        o.state = OrderState.WAITING if hold else OrderState.PAYABLE
        o.hold = hold

    def _notice_hold(self, o: PaymentOrder, as_of: date) -> Hold | None:
        """公示: an objection filed on notice holds the order until a bureau dismisses it;
        otherwise the notice itself holds it until its last day has passed."""
        if o.notice_until is None:
            return None
        if self._objection(o) is not None:
            return Hold.OBJECTION
        return Hold.PUBLICITY if as_of < o.notice_until else None

    def _objection(self, o: PaymentOrder) -> Objection | None:
        """The first objection filed during the order's notice that no bureau dismissed."""
        for obj in self.objections.get(o.entitlement_id, ()):
            on_notice = o.notice_until is not None and o.decided_on <= obj.filed_on < o.notice_until
            if on_notice and obj.event_id not in self.dismissed:
                return obj
        return None

    def _to_review(self, o: PaymentOrder) -> None:
        """An order an objection holds goes to its paying bureau to review (a notice naming
        the objection, which `subsidy publicity dismiss` takes)."""
        obj = self._objection(o)
        assert obj is not None
        self.changes.notices.append(
            PayoutNotice(f"objection:{o.order_id}:{obj.event_id}", "OBJECTION", o.channel, o.year,
                         o.amount_fen, o.enterprise_id, o.enterprise_name, o.order_id, "",
                         f"{obj.reason}（异议 {obj.event_id}）")
        )  # fmt: skip

    def _commit(self, o: PaymentOrder, blocked: set[tuple[str, int]]) -> Hold | None:
        """Budget: the order's amount moves from its envelope to the enterprise's payable, if
        the envelope has room and no earlier order of it waits."""
        key = (o.channel, o.year)
        budget = account(AccountKind.BUDGET, o.channel, o.year)
        room = self.accounts.credit_balance(budget)
        if key in blocked or room < o.amount_fen:
            blocked.add(key)
            self.envelopes.short(o.channel, o.year, self.accounts)
            return Hold.BUDGET
        payable = account(AccountKind.PAYABLE, o.channel, o.year, o.enterprise_id)
        self.post(Transfer(f"commit:{o.order_id}", TransferKind.COMMIT, budget, payable,
                           o.amount_fen, o.order_id))  # fmt: skip
        o.committed = True
        self.envelopes.used(o.channel, o.year, self.accounts)
        return None

    def _set_off(self, o: PaymentOrder) -> None:
        """The enterprise's debts to the same channel, oldest first, settled from the order
        (where the settings allow: 原渠道, a channel's debt is never paid from another's).
        With set-off off, only its own award's clawbacks: what was retracted or corrected down
        before it was sent is not owed, and is not sent to be asked back."""
        for r in self.receivables.values():
            if o.net_fen == 0:
                return
            if r.enterprise_id != o.enterprise_id or r.channel != o.channel:
                continue
            if not self.set_off and r.entitlement_id != o.entitlement_id:
                continue
            fen = min(o.net_fen, r.outstanding_fen)
            if fen <= 0:
                continue
            self.post(
                Transfer(f"setoff:{o.order_id}:{r.receivable_id}", TransferKind.SET_OFF,
                         account(AccountKind.PAYABLE, o.channel, o.year, o.enterprise_id),
                         account(AccountKind.RECEIVABLE, r.channel, r.year, r.enterprise_id),
                         fen, o.order_id)
            )  # fmt: skip
            o.set_off_fen += fen
            r.set_off_fen += fen
            self.changes.receivables.add(r.receivable_id)

    def _account_hold(self, o: PaymentOrder) -> Hold | None:
        """An order is sent only to a registered account other than one the bank returned."""
        payee = self.payees.get(o.enterprise_id)
        if payee is None:
            return Hold.NO_ACCOUNT
        if o.returned_account and payee.account_number == o.returned_account:
            return Hold.RETURNED
        return None
