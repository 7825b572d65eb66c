"""The desk's readings one by one."""

# G3's split to the fen, strict first come on an envelope, the 80% and 100% alerts, set-off within a
# channel only, and 公示 with objections on and off notice.

from datetime import date

import pytest

from subsidy.domain.catalog import load_catalog
from subsidy.domain.payouts import funding, treasury
from subsidy.domain.payouts.batches import ReturnLine
from subsidy.domain.payouts.budget import EnvelopeLine
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import BudgetRefused, ReturnRefused
from subsidy.domain.payouts.orders import (
    Clawback,
    Grant,
    Hold,
    Objection,
    OrderState,
    PayeeAccount,
)

CATALOG = load_catalog()
LAB = "m03.provincial_key_lab"  # 市科技局, not noticed
EXPO = "m06.exhibition"  # a review award: 7 days' notice
DAY = date(2025, 7, 1)


def _grant(desk: PayoutDesk, n: int, fen: int, rule: str = LAB, district: str = "SIP",
           who: str = "E1", on: date = DAY) -> list[str]:  # fmt: skip
    ent = f"ev{n}/{rule}"
    g = Grant(f"{ent}#1", ent, who, f"{who}公司", district, rule, 2025, fen, on, on)
    return [o.order_id for o in desk.take_grant(g)]


def _desk(*envelopes: tuple[str, int]) -> PayoutDesk:
    desk = PayoutDesk(CATALOG)
    desk.load_budget(
        "v1", [EnvelopeLine(i, c, 2025, fen) for i, (c, fen) in enumerate(envelopes, 1)]
    )
    for who in ("E1", "E2"):
        desk.register_payee(
            PayeeAccount(who, "苏州银行", "6222000000000001", f"{who}公司", DAY, who)
        )
    return desk


@pytest.mark.parametrize(("district", "city"), [("SIP", 500), ("KUNSHAN", 300), ("GUSU", 500)])
def test_the_city_share_by_district_and_the_district_takes_the_rest(
    district: str, city: int
) -> None:
    rule = CATALOG.rule(LAB)
    assert funding.split(rule, district, 0, 1000) == {"city": city, "district": 1000 - city}
    # Cut on the running total: 1,001 fen then 1 fen add up to the split of 1,002.
    first, second = funding.split(rule, "SIP", 0, 1001), funding.split(rule, "SIP", 1001, 1002)
    assert first == {"city": 500, "district": 501}
    assert second == {"city": 1}
    assert funding.district_channel("SIP") == "苏州工业园区财政局"


def test_an_envelope_serves_strictly_first_come_and_alerts_at_80_and_100() -> None:
    desk = _desk(("市科技局", 1000), ("苏州工业园区财政局", 10_000))
    big = _grant(desk, 1, 1600)[0]  # city part 800: fits, and takes the envelope to 80%
    bigger = _grant(desk, 2, 800)[0]  # city part 400: 200 left, it waits
    small = _grant(desk, 3, 200)[0]  # city part 100 would fit, but it came later: it waits too
    desk.advance(DAY)
    assert [desk.orders[i].state for i in (big, bigger, small)] == [
        OrderState.PAYABLE, OrderState.WAITING, OrderState.WAITING]  # fmt: skip
    assert desk.orders[small].hold is Hold.BUDGET
    alerts = [(a.channel, a.threshold) for a in desk.drain().alerts]
    assert alerts == [("市科技局", 80), ("市科技局", 100)]
    desk.load_budget("v2", [EnvelopeLine(1, "市科技局", 2025, 1300)])
    desk.advance(DAY)
    assert desk.orders[bigger].state is desk.orders[small].state is OrderState.PAYABLE
    assert desk.drain().alerts == []  # each alert once per envelope
    with pytest.raises(BudgetRefused, match="line 1: 市科技局 2025 has 1300 fen committed"):
        desk.load_budget("v3", [EnvelopeLine(1, "市科技局", 2025, 1000)])


def test_a_debt_is_set_off_only_against_the_same_channel() -> None:
    desk = _desk(("市科技局", 10**9), ("苏州工业园区财政局", 10**9), ("市工信局", 10**9),
                 ("市商务局", 10**9))  # fmt: skip
    claw = Clawback("E1#9", f"ev1/{LAB}", "E1", "SIP", LAB, 2025, 1000, DAY, DAY)
    desk.take_clawback(claw)  # 500 owed to 市科技局, 500 to SIP's bureau
    expo = _grant(desk, 2, 4000, rule=EXPO, on=date(2025, 6, 1))  # 市工信局 + SIP
    desk.advance(date(2025, 7, 1))
    by_channel = {desk.orders[i].channel: desk.orders[i].set_off_fen for i in expo}
    assert by_channel == {"市工信局": 0, "苏州工业园区财政局": 500}
    owed = {r.channel: r.outstanding_fen for r in desk.receivables.values()}
    assert owed == {"市科技局": 500, "苏州工业园区财政局": 0}


def test_a_noticed_award_waits_its_days_and_an_objection_on_notice_holds_it() -> None:
    desk = _desk(("市工信局", 10**9), ("苏州工业园区财政局", 10**9))
    on = date(2025, 9, 1)
    early, held = _grant(desk, 1, 2000, rule=EXPO, on=on), _grant(desk, 2, 2000, rule=EXPO, on=on)
    desk.file_objection(Objection("late", f"ev1/{EXPO}", date(2025, 9, 8), "过了公示期"))
    desk.file_objection(Objection("o2", f"ev2/{EXPO}", date(2025, 9, 3), "异议"))
    desk.drain()
    desk.advance(date(2025, 9, 7))  # the notice's last day
    assert {desk.orders[i].hold for i in early} == {Hold.PUBLICITY}
    assert {desk.orders[i].hold for i in held} == {Hold.OBJECTION}  # an objection holds first
    to_review = [(n.kind, n.channel, n.order_id) for n in desk.drain().notices]
    assert sorted(to_review) == sorted(("OBJECTION", desk.orders[i].channel, i) for i in held)
    desk.advance(date(2025, 9, 7))
    assert desk.drain().notices == []  # sent to review once
    desk.advance(date(2025, 9, 8))
    assert {desk.orders[i].state for i in early} == {OrderState.PAYABLE}  # late objection: none
    assert {desk.orders[i].hold for i in held} == {Hold.OBJECTION}
    desk.dismiss_objection("o2")
    desk.advance(date(2025, 9, 8))
    assert {desk.orders[i].state for i in held} == {OrderState.PAYABLE}


def test_a_bank_that_contradicts_its_earlier_result_is_refused_and_a_repeat_is_a_no_op() -> None:
    desk = _desk(("市科技局", 10_000_000))
    _grant(desk, 1, 1_000_000)
    desk.advance(DAY)
    batch = treasury.make_batch(desk, "市科技局", DAY)
    [sent] = batch.lines
    line = (1, sent.order_id, sent.account_number, sent.amount_fen)
    returned = ReturnLine(*line, False, "账户已销户")
    assert treasury.confirm(desk, batch, [returned], DAY) == 1
    assert treasury.confirm(desk, batch, [returned], DAY) == 0  # the same file again
    paid = ReturnLine(*line, True, "")
    with pytest.raises(ReturnRefused) as refused:
        treasury.confirm(desk, batch, [paid], DAY)
    assert refused.value.field == "处理结果"
    assert desk.orders[sent.order_id].state is OrderState.WAITING  # still the return
