"""The trend, funding-channel and annual-cap panels as the page, JSON and export show them."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from subsidy.dashboard.panels import CapUse, Panels
from subsidy.dashboard.payouts import PayoutFigures
from subsidy.dashboard.payouts_view import used_percent
from subsidy.domain.catalog import Catalog
from subsidy.domain.enums import DISTRICT_NAMES_ZH
from subsidy.domain.money import compact, format_fen
from subsidy.domain.payouts import funding
from subsidy.domain.payouts.orders import OrderState

Json = dict[str, Any]

DISTRICT_ZH = {d.value: name for d, name in DISTRICT_NAMES_ZH.items()}
# At or above this share of its cap an enterprise is listed as near it (basis points).
NEAR_CAP_POINTS = 9_000
# The near-cap list is for reading, not a report: the export and the enterprise view have all.
NEAR_CAP_SHOWN = 100
# A grant whose rule or district the policy no longer knows is still counted, under this name.
UNROUTED = "未归属渠道"


def money(name: str, fen: int) -> Json:
    """An amount three ways: fen (for sums), ¥ in full (detail rows), and short for cards and
    tables (`<name>Short`: 万元 from ¥10,000, 亿元 from ¥100,000,000)."""
    return {f"{name}Fen": fen, name: format_fen(fen), f"{name}Short": compact(fen)}


def _months(first: date, last: date) -> list[date]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def _series(
    panels: Panels, key: Callable[[Any], Any], label: Callable[[Any], Json]
) -> tuple[list[str], list[Json]]:
    by_key: dict[Any, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for m in panels.months:
        by_key[key(m)][m.month] += m.granted_fen
    if not by_key:
        return [], []
    months = _months(min(m.month for m in panels.months), max(m.month for m in panels.months))
    series = [
        {**label(k), "values": [values.get(month, 0) for month in months],
         "labels": [compact(values.get(month, 0)) for month in months],
         **money("total", sum(values.values()))}
        for k, values in sorted(by_key.items())
    ]  # fmt: skip
    return [f"{m.year}-{m.month:02d}" for m in months], series


# The axis' steps in fen: 1, 2 and 5 × 10ⁿ yuan, up to past any int64 amount.
_STEPS = [m * 10**k for k in range(2, 21) for m in (1, 2, 5)]


def ticks(top_fen: int) -> list[Json]:
    """The chart's y axis: 0 and up to 4 steps of 1, 2 or 5 × 10ⁿ yuan covering `top_fen`."""
    if top_fen <= 0:
        return []
    step = next(s for s in _STEPS if s * 4 >= top_fen)
    last = -(-top_fen // step)
    return [{"fen": step * i, "label": compact(step * i) if i else "0"} for i in range(last + 1)]


def trends_json(panels: Panels, measures: dict[int, str]) -> Json:
    """Granted by month of the event, one series per measure and per district with grants,
    and the y axis (the months' totals are the same either way)."""
    months, by_measure = _series(
        panels, lambda m: m.measure,
        lambda k: {"key": str(k), "label": f"第{k}条", "title": measures.get(k, "")},
    )  # fmt: skip
    _, by_district = _series(
        panels, lambda m: m.district, lambda k: {"key": k, "label": DISTRICT_ZH.get(k, k)}
    )
    columns = zip(*(s["values"] for s in by_measure), strict=True)  # one value a month each
    highest = max((sum(col) for col in columns), default=0)
    return {"months": months, "byMeasure": by_measure, "byDistrict": by_district,
            "ticks": ticks(highest)}  # fmt: skip


def _near(c: CapUse, rule: str) -> Json:
    points, used = used_percent(c.granted_fen, c.cap_fen)
    return {
        "enterpriseId": c.enterprise_id, "enterpriseName": c.enterprise_name,
        "district": c.district, "districtName": DISTRICT_ZH.get(c.district, c.district),
        "ruleId": c.rule_id, "rule": rule, "year": c.year,
        "grantedFen": c.granted_fen, "granted": format_fen(c.granted_fen),
        "capFen": c.cap_fen, "cap": format_fen(c.cap_fen),
        "usedBasisPoints": points, "used": used,
    }  # fmt: skip


def caps_json(caps: Iterable[CapUse], rule_titles: dict[str, str]) -> Json:
    """Per rule with an annual cap and year: granted against the caps of the enterprises it
    was granted to; and the enterprises at or above 90% of theirs, the fullest first."""
    groups: dict[tuple[str, int], list[CapUse]] = defaultdict(list)
    for c in caps:
        groups[(c.rule_id, c.year)].append(c)
    rules, near = [], []
    for (rule_id, year), uses in sorted(groups.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        title = rule_titles.get(rule_id, rule_id)
        granted, cap = sum(u.granted_fen for u in uses), sum(u.cap_fen for u in uses)
        points, used = used_percent(granted, cap)
        close = [u for u in uses if u.granted_fen * 10_000 >= NEAR_CAP_POINTS * u.cap_fen]
        rules.append({"ruleId": rule_id, "rule": title, "year": year,
                      "enterprises": len(uses), "nearCap": len(close),
                      "atCap": sum(1 for u in close if u.granted_fen >= u.cap_fen),
                      **money("granted", granted), **money("cap", cap),
                      "usedBasisPoints": points, "used": used})  # fmt: skip
        near += [_near(u, title) for u in close]
    near.sort(key=lambda n: (-(n["usedBasisPoints"] or 0), -n["grantedFen"], n["enterpriseId"]))
    return {"rules": rules, "near": near[:NEAR_CAP_SHOWN], "nearTotal": len(near)}


def _route(catalog: Catalog, panels: Panels) -> dict[str, int]:
    """Each channel's part of what the entitlements hold (G3, as the payouts split orders)."""
    out: dict[str, int] = defaultdict(int)
    for g in panels.grants:
        try:
            rule = catalog.at(g.occurred_on).rule(g.rule_id)
            parts = funding.split(rule, g.district, 0, g.granted_fen)
            for level, fen in parts.items():
                out[funding.channel_of(rule, g.district, level)] += fen
        except (KeyError, ValueError):  # a rule or district this policy does not know
            out[UNROUTED] += g.granted_fen
    return out


_PENDING = (OrderState.PAYABLE.value, OrderState.WAITING.value)


def channels_json(catalog: Catalog, panels: Panels, payouts: PayoutFigures) -> list[Json]:
    """Per funding channel: granted (the ledger, routed), ordered, paid out, in batches,
    pending, and its budget and commitments where envelopes are loaded; largest grant first."""
    granted = _route(catalog, panels)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in payouts.orders:
        s, net = sums[o.channel], o.amount_fen - o.set_off_fen
        s["ordered"] += o.amount_fen
        s["committed"] += o.committed_fen
        s["setOff"] += o.set_off_fen
        if o.state == OrderState.PAID_OUT.value:
            s["paidOut"] += net
        elif o.state == OrderState.IN_BATCH.value:
            s["inBatch"] += net
        elif o.state in _PENDING:
            s["pending"] += net
    envelopes: dict[str, int] = defaultdict(int)
    for e in payouts.envelopes:
        envelopes[e.channel] += e.amount_fen
    rows = []
    for channel in sorted(granted.keys() | sums.keys() | envelopes.keys(),
                          key=lambda c: (-granted.get(c, 0), c)):  # fmt: skip
        s = sums.get(channel, {})
        points, used = used_percent(s.get("committed", 0), envelopes.get(channel, 0))
        row: Json = {"channel": channel, "budgetLoaded": channel in envelopes,
                     **money("granted", granted.get(channel, 0)),
                     **money("envelope", envelopes.get(channel, 0)),
                     "usedBasisPoints": points, "used": used}  # fmt: skip
        for name in ("ordered", "paidOut", "inBatch", "pending", "setOff", "committed"):
            row.update(money(name, s.get(name, 0)))
        rows.append(row)
    return rows
