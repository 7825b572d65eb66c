"""Where a payment order stands in the words an enterprise reads: one mapping of (state, hold)."""

from datetime import date, timedelta

from subsidy.domain.payouts.orders import Hold, OrderState

# A waiting order's words by its hold. NEW is an order taken in and not yet through its holds:
# a rule with public notice will put it on notice first, one without goes straight on.
_WAITING = {
    Hold.OBJECTION: "有异议暂缓",
    Hold.BUDGET: "预算不足暂缓",
    Hold.NO_ACCOUNT: "待登记收款账户",
}
_MOVING = {
    OrderState.PAYABLE: "待拨付",
    OrderState.IN_BATCH: "已纳入拨付批次",
    # All of it went to what the enterprise owed back: nothing reaches its account, and saying
    # 已到账 would send it looking for money that was never sent.
    OrderState.SETTLED: "已全额抵扣应退款项",
}


class ImpossibleOrderStatus(ValueError):
    """A (state, hold) the payouts never make: payment_orders' CHECK constraints refuse it."""


def _day(d: date) -> str:
    """`2026年3月14日`: a day as a person writes it."""
    return f"{d.year}年{d.month}月{d.day}日"


def possible(state: OrderState, hold: Hold | None) -> bool:
    """Can an order be in this state with this hold? An order waits for exactly one reason,
    and only a waiting order has one (payment_orders: (state = 'WAITING') = (hold IS NOT NULL))."""
    return (state is OrderState.WAITING) == (hold is not None)


def status_zh(
    state: OrderState | str,
    hold: Hold | str | None,
    *,
    notice_until: date | None = None,
    paid_on: date | None = None,
    return_reason: str = "",
) -> str:
    """The order's status in plain Chinese: 待公示, 公示中（至 X）, 有异议暂缓, 预算不足暂缓,
    待登记收款账户, 银行退回：<reason>, 待拨付, 已纳入拨付批次, 已拨付（X）, 已全额抵扣应退款项.

    `notice_until` is the first day after the notice (the payouts' convention), so the last day
    named is the day before it, as the published notice names it. Raises ImpossibleOrderStatus
    for a state or hold that is no member of its enum, or a combination no order can be in."""
    try:
        s = OrderState(state)
        h = None if hold is None or hold == "" else Hold(hold)
    except ValueError as err:
        raise ImpossibleOrderStatus(f"no payment order is {state!r} with hold {hold!r}") from err
    if not possible(s, h):
        raise ImpossibleOrderStatus(f"no payment order is {s.value} with hold {h}")
    if h is Hold.NEW:
        return "待公示" if notice_until is not None else "待处理"
    if h is Hold.PUBLICITY:
        if notice_until is None:
            return "公示中"
        return f"公示中（至 {_day(notice_until - timedelta(days=1))}）"
    if h is Hold.RETURNED:
        reason = " ".join(return_reason.split())
        return f"银行退回：{reason}" if reason else "银行退回"
    if h is not None:
        return _WAITING[h]
    if s is OrderState.PAID_OUT:
        return f"已拨付（{_day(paid_on)}）" if paid_on is not None else "已拨付"
    return _MOVING[s]
