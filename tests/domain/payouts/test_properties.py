"""Any sequence of the desk's operations keeps the accounts sound (hypothesis, pure desk)."""

# Grants, clawbacks, budget loads, accounts, objections, batches, bank results, refunds and
# write-offs, in any sequence, keep every account sum zero, every balance rule, and a clean
# reconciliation (hypothesis state machine on the pure desk).

import os
from contextlib import suppress
from datetime import date, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from subsidy.domain.catalog import load_catalog
from subsidy.domain.payouts import recovery, treasury
from subsidy.domain.payouts.accounts import kind_of, rule_holds
from subsidy.domain.payouts.batches import ReturnLine
from subsidy.domain.payouts.budget import EnvelopeLine
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import PayoutError
from subsidy.domain.payouts.orders import Clawback, Grant, Objection, OrderState, PayeeAccount
from subsidy.domain.payouts.reconcile import reconcile

CATALOG = load_catalog()
ENTERPRISES = ("E1", "E2", "E3")
RULES = ("m03.provincial_key_lab", "m06.exhibition", "m05.service_platform")
DISTRICTS = ("SIP", "KUNSHAN", "GUSU")
DISTRICT_CHANNELS = {"苏州工业园区财政局", "昆山市财政局", "姑苏区财政局"}
CHANNELS = sorted({CATALOG.rule(r).paying_unit for r in RULES} | DISTRICT_CHANNELS)
START = date(2025, 7, 1)
FEN = st.integers(min_value=1, max_value=3_000_000)


class DeskMachine(RuleBasedStateMachine):
    """The desk under random operations; every invariant checked after each."""

    def __init__(self) -> None:
        super().__init__()
        self.desk = PayoutDesk(CATALOG)
        self.day = START
        self.grants = 0
        self.loads = 0
        self.refunds = 0

    @rule(e=st.sampled_from(ENTERPRISES), r=st.sampled_from(RULES),
          d=st.sampled_from(DISTRICTS), fen=FEN, again=st.booleans())  # fmt: skip
    def grant(self, e: str, r: str, d: str, fen: int, again: bool) -> None:
        self.grants += 1
        ent = f"{e}-ev{self.grants % 4}/{r}"  # top-ups land on the same entitlements
        g = Grant(f"{ent}#{self.grants}", ent, e, f"{e}公司", d, r, 2025, fen, START, self.day)
        self.desk.take_grant(g)
        if again:  # taken in twice (a redelivery): one set of orders
            assert self.desk.take_grant(g) == []

    @rule(data=st.data())
    def clawback(self, data: st.DataObject) -> None:
        paid = {o.entitlement_id: o for o in self.desk.orders.values()}
        if not paid:
            return
        ent = data.draw(st.sampled_from(sorted(paid)))
        o = paid[ent]
        room = self.desk.cash_by_entitlement[ent] - self.desk.clawed_by_entitlement[ent]
        if room <= 0:
            return
        fen = data.draw(st.integers(min_value=1, max_value=room))
        self.desk.take_clawback(
            Clawback(f"{o.enterprise_id}#c{len(self.desk.taken)}", ent, o.enterprise_id,
                     o.district, o.rule_id, 2025, fen, START, self.day)
        )  # fmt: skip

    @rule(amounts=st.lists(st.integers(min_value=0, max_value=20_000_000), min_size=1,
                           max_size=len(CHANNELS)))  # fmt: skip
    def load_budget(self, amounts: list[int]) -> None:
        self.loads += 1
        pairs = zip(CHANNELS, amounts, strict=False)
        lines = [EnvelopeLine(i + 1, c, 2025, a) for i, (c, a) in enumerate(pairs)]
        with suppress(PayoutError):  # refused whole: below what is committed
            self.desk.load_budget(f"v{self.loads}", lines)

    @rule(e=st.sampled_from(ENTERPRISES), n=st.integers(min_value=0, max_value=2))
    def register(self, e: str, n: int) -> None:
        self.desk.register_payee(
            PayeeAccount(e, "苏州银行", f"62220000000000000{n}{ENTERPRISES.index(e)}", f"{e}公司",
                         self.day, f"payee-{e}-{n}")
        )  # fmt: skip

    @rule(data=st.data())
    def object_to(self, data: st.DataObject) -> None:
        ents = sorted({o.entitlement_id for o in self.desk.orders.values()})
        if ents:
            ent = data.draw(st.sampled_from(ents))
            self.desk.file_objection(Objection(f"obj-{self.day}-{ent}", ent, self.day, "异议"))

    @rule(days=st.integers(min_value=0, max_value=10))
    def advance(self, days: int) -> None:
        self.day += timedelta(days=days)
        self.desk.advance(self.day)

    @rule(channel=st.sampled_from(CHANNELS))
    def batch(self, channel: str) -> None:
        with suppress(PayoutError):  # nothing payable
            treasury.make_batch(self.desk, channel, self.day)

    @rule(data=st.data())
    def bank_returns(self, data: st.DataObject) -> None:
        open_batches = [b for b in self.desk.batches.values() if len(b.results) < len(b.lines)]
        if not open_batches:
            return
        b = data.draw(st.sampled_from(open_batches))
        # A line the bank reported before is reported as it was (a bank that contradicts
        # itself is refused, as test_treasury checks); the others get a new result.
        lines = [
            ReturnLine(i + 1, ln.order_id, ln.account_number, ln.amount_fen,
                       paid := (b.results[ln.order_id] == "PAID" if ln.order_id in b.results
                                else data.draw(st.booleans())),
                       "" if paid else "账户已销户")
            for i, ln in enumerate(b.lines)
            if data.draw(st.booleans())
        ]  # fmt: skip
        treasury.confirm(self.desk, b, lines, self.day)
        treasury.confirm(self.desk, b, lines, self.day)  # the same file again: nothing more

    @precondition(lambda self: bool(self.desk.receivables))
    @rule(data=st.data(), write_off=st.booleans())
    def recover(self, data: st.DataObject, write_off: bool) -> None:
        owed = [r for r in self.desk.receivables.values() if r.outstanding_fen > 0]
        if not owed:
            return
        r = data.draw(st.sampled_from(owed))
        fen = data.draw(st.integers(min_value=1, max_value=r.outstanding_fen))
        if write_off:
            a = recovery.WriteOffApproval(r.receivable_id, fen, "approver-a", "无力偿还")
            recovery.write_off(self.desk, a, recovery.WriteOffApproval(
                r.receivable_id, fen, "approver-b", "无力偿还"))  # fmt: skip
        else:
            self.refunds += 1
            recovery.collect(self.desk, r.receivable_id, fen, f"refund-{self.refunds}")

    @invariant()
    def accounts_sum_to_zero(self) -> None:
        debits, credits = self.desk.accounts.totals()
        assert debits == credits

    @invariant()
    def balance_rules_hold(self) -> None:
        for name, b in self.desk.accounts.balances.items():
            assert rule_holds(kind_of(name), b), name

    @invariant()
    def reconciliation_is_clean(self) -> None:
        assert reconcile(self.desk).differences == []

    @invariant()
    def each_order_in_one_open_batch(self) -> None:
        open_lines = [
            ln.order_id
            for b in self.desk.batches.values()
            for ln in b.lines
            if ln.order_id not in b.results or b.results[ln.order_id] == "PAID"
        ]
        assert len(open_lines) == len(set(open_lines))
        for o in self.desk.orders.values():
            if o.state is OrderState.IN_BATCH:
                assert o.batch_id in self.desk.batches

    @invariant()
    def never_more_than_granted(self) -> None:
        for ent, cash in self.desk.cash_by_entitlement.items():
            sent = sum(
                o.net_fen
                for o in self.desk.orders.values()
                if o.entitlement_id == ent and o.state in (OrderState.PAID_OUT, OrderState.IN_BATCH)
            )
            assert sent <= cash


DeskMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "150")),
    stateful_step_count=40,
    deadline=None,
)
TestDesk = DeskMachine.TestCase
