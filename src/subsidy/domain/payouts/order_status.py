"""Where a payment order stands in words an enterprise reads, Chinese and English: one mapping."""

from datetime import date, timedelta
from typing import Literal

from subsidy.domain.payouts.orders import Hold, OrderState

Language = Literal["zh", "en"]

# A waiting order's words by its hold, (Chinese, English). NEW is an order taken in and not yet
# through its holds: a rule with public notice will put it on notice first, one without goes
# straight on.
_WAITING = {
    Hold.OBJECTION: ("有异议暂缓", "On hold: an objection was raised"),
    Hold.BUDGET: ("预算不足暂缓", "On hold: the budget is short"),
    Hold.NO_ACCOUNT: ("待登记收款账户", "Waiting for a payee account to be registered"),
}
_MOVING = {
    OrderState.PAYABLE: ("待拨付", "To be paid"),
    OrderState.IN_BATCH: ("已纳入拨付批次", "In a payment batch"),
    # All of it went to what the enterprise owed back: nothing reaches its account, and saying
    # 已到账 (paid) would send it looking for money that was never sent.
    OrderState.SETTLED: ("已全额抵扣应退款项", "Set off in full against money owed back"),
}
# Month names written out, not strftime's %b: that follows the process's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImpossibleOrderStatus(ValueError):
    """A (state, hold) the payouts never make: payment_orders' CHECK constraints refuse it."""


def _day(d: date, language: Language) -> str:
    """`2026年3月14日` or `14 Mar 2026`: a day as a person writes it."""
    if language == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def possible(state: OrderState, hold: Hold | None) -> bool:
    """Can an order be in this state with this hold? An order waits for exactly one reason,
    and only a waiting order has one (payment_orders: (state = 'WAITING') = (hold IS NOT NULL))."""
    return (state is OrderState.WAITING) == (hold is not None)


def _known(state: OrderState | str, hold: Hold | str | None) -> tuple[OrderState, Hold | None]:
    """The state and hold as members of their enums, if an order can be in them."""
    try:
        s = OrderState(state)
        h = None if hold is None or hold == "" else Hold(hold)
    except ValueError as err:
        raise ImpossibleOrderStatus(f"no payment order is {state!r} with hold {hold!r}") from err
    if not possible(s, h):
        raise ImpossibleOrderStatus(f"no payment order is {s.value} with hold {h}")
    return s, h


def status_words(
    state: OrderState | str,
    hold: Hold | str | None,
    *,
    language: Language,
    notice_until: date | None = None,
    paid_on: date | None = None,
    return_reason: str = "",
) -> str:
    """The order's status in plain words of `language`:

    | zh | en |
    |---|---|
    | 待公示 / 待处理 | Awaiting public notice / Being processed |
    | 公示中（至 2026年3月14日） | On public notice until 14 Mar 2026 |
    | 有异议暂缓 | On hold: an objection was raised |
    | 预算不足暂缓 | On hold: the budget is short |
    | 待登记收款账户 | Waiting for a payee account to be registered |
    | 银行退回：<reason> | Returned by the bank: <reason> |
    | 待拨付 | To be paid |
    | 已纳入拨付批次 | In a payment batch |
    | 已拨付（2026年3月14日） | Paid (14 Mar 2026) |
    | 已全额抵扣应退款项 | Set off in full against money owed back |

    `notice_until` is the first day after the notice (the payouts' convention), so the last day
    named is the day before it, as the published notice names it. The bank's reason is given as
    the bank wrote it (Chinese in either language), its whitespace collapsed. Raises
    ImpossibleOrderStatus for a state or hold that is no member of its enum, or a combination
    no order can be in."""
    if language not in ("zh", "en"):
        raise ValueError(f"no words in language {language!r}")
    s, h = _known(state, hold)
    zh = language == "zh"
    if h is Hold.NEW:
        if notice_until is not None:
            return "待公示" if zh else "Awaiting public notice"
        return "待处理" if zh else "Being processed"
    if h is Hold.PUBLICITY:
        if notice_until is None:
            return "公示中" if zh else "On public notice"
        last = _day(notice_until - timedelta(days=1), language)
        return f"公示中（至 {last}）" if zh else f"On public notice until {last}"
    if h is Hold.RETURNED:
        said = "银行退回" if zh else "Returned by the bank"
        reason = " ".join(return_reason.split())
        return f"{said}{'：' if zh else ': '}{reason}" if reason else said
    if h is not None:
        return _WAITING[h][0 if zh else 1]
    if s is OrderState.PAID_OUT:
        if paid_on is None:
            return "已拨付" if zh else "Paid"
        day = _day(paid_on, language)
        return f"已拨付（{day}）" if zh else f"Paid ({day})"
    return _MOVING[s][0 if zh else 1]


def status_zh(
    state: OrderState | str,
    hold: Hold | str | None,
    *,
    notice_until: date | None = None,
    paid_on: date | None = None,
    return_reason: str = "",
) -> str:
    """status_words in Chinese: 待公示, 公示中（至 X）, 有异议暂缓, 预算不足暂缓, 待登记收款账户,
    银行退回：<reason>, 待拨付, 已纳入拨付批次, 已拨付（X）, 已全额抵扣应退款项."""
    return status_words(
        state, hold, language="zh",
        notice_until=notice_until, paid_on=paid_on, return_reason=return_reason,
    )  # fmt: skip


def status_en(
    state: OrderState | str,
    hold: Hold | str | None,
    *,
    notice_until: date | None = None,
    paid_on: date | None = None,
    return_reason: str = "",
) -> str:
    """status_words in English: Awaiting public notice, On public notice until 14 Mar 2026,
    Returned by the bank: <reason>, Paid (14 Mar 2026), Set off in full against money owed back…"""
    return status_words(
        state, hold, language="en",
        notice_until=notice_until, paid_on=paid_on, return_reason=return_reason,
    )  # fmt: skip
