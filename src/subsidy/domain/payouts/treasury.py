"""Treasury batches: a channel's payable orders of a day in one batch, and the bank's return."""

# The return is applied line by line, all lines checked before any is applied.

import hashlib
from datetime import date

from subsidy.domain.payouts.accounts import AccountKind, Transfer, TransferKind, account
from subsidy.domain.payouts.batches import Batch, BatchLine, ReturnLine
from subsidy.domain.payouts.desk import PayoutDesk
from subsidy.domain.payouts.errors import BatchRefused, ReturnRefused
from subsidy.domain.payouts.orders import Hold, OrderState, PaymentOrder


def batch_id(channel: str, pay_date: date) -> str:
    """One batch per channel and day: `PB<yyyymmdd>-<channel digest>` (ASCII, for the bank)."""
    digest = hashlib.sha256(channel.encode()).hexdigest()[:8].upper()
    return f"PB{pay_date:%Y%m%d}-{digest}"


def make_batch(desk: PayoutDesk, channel: str, day: date) -> Batch:
    """The channel's batch of `day`: made from its payable orders the first time, the same
    batch on every later call (so its files come out the same)."""
    bid = batch_id(channel, day)
    if bid in desk.batches:
        return desk.batches[bid]
    orders = [
        o for o in desk.orders.values() if o.channel == channel and o.state is OrderState.PAYABLE
    ]
    if not orders:
        raise BatchRefused(f"{channel}: no payable order on {day.isoformat()}")
    lines = tuple(_send(desk, o, bid) for o in orders)
    batch = Batch(bid, channel, day, lines)
    desk.batches[bid] = batch
    desk.changes.batches.append(bid)
    return batch


def _send(desk: PayoutDesk, o: PaymentOrder, bid: str) -> BatchLine:
    """An order into a batch: its net amount from the enterprise's payable to in transit."""
    payee = desk.payees[o.enterprise_id]
    desk.post(
        Transfer(f"send:{o.order_id}:{bid}", TransferKind.SEND,
                 account(AccountKind.PAYABLE, o.channel, o.year, o.enterprise_id),
                 account(AccountKind.IN_TRANSIT, o.channel, o.year), o.net_fen, o.order_id)
    )  # fmt: skip
    o.state, o.hold, o.batch_id = OrderState.IN_BATCH, None, bid
    desk.touch(o)
    desk.notify("SENT", o, bid)
    rule = desk.catalog.at(o.decided_on).rule(o.rule_id)
    purpose = f"{rule.title}（{o.rule_id}，{o.year}年度）"
    return BatchLine(o.order_id, payee.account_name, o.enterprise_id, payee.bank_name,
                     payee.account_number, o.net_fen, purpose, o.channel)  # fmt: skip


def check_return(batch: Batch, lines: list[ReturnLine]) -> None:
    """Every line of a return file against its batch, before any is applied: a known order
    of this batch, once, the account and amount sent, no result changed."""
    sent = {ln.order_id: ln for ln in batch.lines}
    first: dict[str, int] = {}
    for r in lines:
        fault = _fault(batch, sent, first, r)
        if fault is not None:
            raise ReturnRefused(r.line, *fault)
        first[r.order_id] = r.line


def _fault(
    batch: Batch, sent: dict[str, BatchLine], first: dict[str, int], r: ReturnLine
) -> tuple[str, str] | None:
    """What is wrong with one return line, as (field, message), or None."""
    if r.order_id in first:
        return "业务流水号", f"{r.order_id} also on line {first[r.order_id]}"
    line = sent.get(r.order_id)
    if line is None:
        return "业务流水号", f"{r.order_id} is not in batch {batch.batch_id}"
    if r.amount_fen != line.amount_fen:
        return "金额", f"{r.amount_fen} fen, the batch sent {line.amount_fen} fen"
    if r.account_number != line.account_number:
        return "账号", f"{r.account_number}, the batch sent to {line.account_number}"
    known = batch.results.get(r.order_id)
    if known is not None and known != _result(r):
        return "处理结果", f"{r.order_id} was confirmed {known} already"
    if not r.paid and not r.reason.strip():
        return "退回原因", "a returned payment needs the bank's reason"
    return None


def confirm(desk: PayoutDesk, batch: Batch, lines: list[ReturnLine], day: date) -> int:
    """Apply a checked return file: each new result once (PAID: in transit → paid out;
    RETURNED: back to the enterprise's payable, waiting for another account). The number of
    results applied now (a line confirmed before is skipped)."""
    check_return(batch, lines)
    applied = 0
    for r in lines:
        if r.order_id in batch.results:
            continue
        o = desk.orders[r.order_id]
        transit = account(AccountKind.IN_TRANSIT, o.channel, o.year)
        if r.paid:
            target, kind = account(AccountKind.PAID_OUT, o.channel, o.year), TransferKind.PAY
            o.state, o.paid_on = OrderState.PAID_OUT, day
        else:
            target = account(AccountKind.PAYABLE, o.channel, o.year, o.enterprise_id)
            kind = TransferKind.RETURN
            o.state, o.hold = OrderState.WAITING, Hold.RETURNED
            o.return_reason, o.returned_account, o.batch_id = r.reason, r.account_number, ""
        desk.post(Transfer(f"{kind.value.lower()}:{o.order_id}:{batch.batch_id}", kind, transit,
                           target, r.amount_fen, o.order_id))  # fmt: skip
        batch.results[r.order_id] = _result(r)
        desk.touch(o)
        desk.notify(_result(r), o, batch.batch_id, r.reason)
        applied += 1
    return applied


def _result(r: ReturnLine) -> str:
    return "PAID" if r.paid else "RETURNED"
