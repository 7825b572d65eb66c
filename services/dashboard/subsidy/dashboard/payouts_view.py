"""Payouts as the page and /api/totals show them: disbursement and budget burn by channel-year."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from subsidy.dashboard.payouts import PayoutFigures, RaisedAlert
from subsidy.domain.beijing import beijing_time
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.orders import HOLDS_ZH, Hold, OrderState

Json = dict[str, Any]
Key = tuple[str, int]  # channel, year

# An envelope's alerts as its badges: 80 when its commitments reached 80%, 100 when an order
# waits for room (the orders' own hold, in the same words).
ALERTS_ZH = {80: "已达80%", 100: HOLDS_ZH[Hold.BUDGET]}
# The figures of a channel-year that follow an order's state, with the JSON name of each.
_BY_STATE = {
    OrderState.PAID_OUT.value: "paidOut",
    OrderState.IN_BATCH.value: "inBatch",
    OrderState.PAYABLE.value: "payable",
    OrderState.WAITING.value: "waiting",
}
_HOLDS = {h.value: label for h, label in HOLDS_ZH.items()}


@dataclass(slots=True)
class _Sums:
    """One channel-year's orders and receivables, summed."""

    orders: int = 0
    granted: int = 0
    net: dict[str, list[int]] = field(default_factory=dict)  # figure -> [orders, fen]
    holds: dict[str, list[int]] = field(default_factory=dict)  # hold -> [orders, fen]
    set_off: int = 0
    settled: int = 0  # orders all of which was set off
    committed: int = 0
    receivables: int = 0
    outstanding: int = 0
    updated_at: datetime | None = None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _fen(name: str, fen: int) -> Json:
    return {f"{name}Fen": fen, name: format_fen(fen)}


def _order_key(key: Key) -> tuple[int, str]:
    """The newest year first, then the channels by name."""
    return -key[1], key[0]


def used_percent(committed_fen: int, envelope_fen: int) -> tuple[int | None, str]:
    """What share of the envelope is committed, in basis points rounded down (never showing
    100.00% before it is full) and as text; None and "—" without an envelope."""
    if envelope_fen <= 0:
        return None, "—"
    points = committed_fen * 10_000 // envelope_fen
    return points, f"{points // 100}.{points % 100:02d}%"


def _sums(figures: PayoutFigures) -> dict[Key, _Sums]:
    sums: dict[Key, _Sums] = {}
    for g in figures.orders:
        s = sums.setdefault((g.channel, g.year), _Sums())
        net = g.amount_fen - g.set_off_fen  # what is (or will be) sent: the rest was set off
        s.orders += g.orders
        s.granted += g.amount_fen
        s.set_off += g.set_off_fen
        s.committed += g.committed_fen
        if g.state == OrderState.SETTLED:
            s.settled += g.orders
        name = _BY_STATE.get(g.state)
        if name is not None:
            count = s.net.setdefault(name, [0, 0])
            count[0], count[1] = count[0] + g.orders, count[1] + net
        if g.hold is not None:
            held = s.holds.setdefault(g.hold, [0, 0])
            held[0], held[1] = held[0] + g.orders, held[1] + net
        if s.updated_at is None or g.updated_at > s.updated_at:
            s.updated_at = g.updated_at
    for r in figures.receivables:
        s = sums.setdefault((r.channel, r.year), _Sums())
        s.receivables += r.amount_fen
        s.outstanding += r.outstanding_fen
    return sums


def _disbursement(key: Key, s: _Sums) -> Json:
    row: Json = {"channel": key[0], "year": key[1], "orders": s.orders,
                 "updatedAt": _iso(s.updated_at),
                 "time": None if s.updated_at is None else beijing_time(s.updated_at),
                 **_fen("granted", s.granted)}  # fmt: skip
    for name in _BY_STATE.values():
        orders, fen = s.net.get(name, [0, 0])
        row.update({**_fen(name, fen), f"{name}Orders": orders})
    hold_keys = list(_HOLDS) + sorted(h for h in s.holds if h not in _HOLDS)
    row["holds"] = [
        {"hold": h, "label": _HOLDS.get(h, h), "orders": s.holds.get(h, [0, 0])[0],
         **_fen("amount", s.holds.get(h, [0, 0])[1])}
        for h in hold_keys
    ]  # fmt: skip
    row.update({**_fen("setOff", s.set_off), "settledOrders": s.settled})
    row.update({**_fen("receivables", s.receivables), **_fen("outstanding", s.outstanding)})
    return row


def _alerts(alerts: Iterable[RaisedAlert]) -> list[Json]:
    return [
        {"threshold": a.threshold, "label": ALERTS_ZH.get(a.threshold, f"{a.threshold}%"),
         "raisedAt": _iso(a.raised_at), "time": beijing_time(a.raised_at)}
        for a in alerts
    ]  # fmt: skip


def _budget(figures: PayoutFigures, sums: dict[Key, _Sums]) -> list[Json]:
    envelopes = {(e.channel, e.year): e.amount_fen for e in figures.envelopes}
    alerts: dict[Key, list[RaisedAlert]] = {}
    for a in figures.alerts:
        alerts.setdefault((a.channel, a.year), []).append(a)
    rows = []
    for key in sorted(envelopes.keys() | sums.keys() | alerts.keys(), key=_order_key):
        envelope = envelopes.get(key, 0)
        committed = sums[key].committed if key in sums else 0
        points, used = used_percent(committed, envelope)
        rows.append({
            "channel": key[0], "year": key[1], "loaded": key in envelopes,
            **_fen("envelope", envelope), **_fen("committed", committed),
            **_fen("remaining", envelope - committed), "usedBasisPoints": points, "used": used,
            "alerts": _alerts(sorted(alerts.get(key, []), key=lambda a: a.threshold)),
        })  # fmt: skip
    return rows


def payouts_json(figures: PayoutFigures) -> Json:
    """资金拨付 (each channel-year's orders by state and hold, set off, receivables
    outstanding) and 预算执行 (its envelope, committed, share used, alerts); `available` False
    when the payouts cannot be read (not migrated), empty lists when nothing was paid yet."""
    if not figures.available:
        return {"available": False, "disbursement": [], "budget": []}
    sums = _sums(figures)
    return {
        "available": True,
        "disbursement": [_disbursement(k, sums[k]) for k in sorted(sums, key=_order_key)],
        "budget": _budget(figures, sums),
    }
