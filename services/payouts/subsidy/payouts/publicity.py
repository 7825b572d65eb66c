"""公示: the awards on public notice on a day, as the CSV or HTML page a bureau publishes."""

import csv
import html
import io
from dataclasses import dataclass
from datetime import date, timedelta

from subsidy.domain.catalog import Catalog
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import format_fen
from subsidy.domain.payouts.desk import PayoutDesk

HEADER = ("序号", "企业名称", "统一社会信用代码", "所在地区", "支持事项", "政策条款",
          "拟支持金额(元)", "公示期")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Notice:
    """One award on notice: the enterprise, what it is for, the amount, the period."""

    enterprise_name: str
    enterprise_id: str
    district: str
    title: str
    rule_id: str
    amount_fen: int
    starts: date
    ends: date  # the last day of the notice

    @property
    def period(self) -> str:
        """The notice period as printed (both days included)."""
        return f"{self.starts.isoformat()} 至 {self.ends.isoformat()}"


def on_notice(desk: PayoutDesk, catalog: Catalog, day: date) -> list[Notice]:
    """The awards whose notice period includes `day`: one line per decision (its city and
    district parts together), in the order decided."""
    notices: dict[str, Notice] = {}
    for o in desk.orders.values():
        if o.notice_until is None or not o.decided_on <= day < o.notice_until:
            continue
        seen = notices.get(o.decision_id)
        if seen is not None:
            notices[o.decision_id] = _more(seen, o.amount_fen)
            continue
        rule = catalog.at(o.decided_on).rule(o.rule_id)
        notices[o.decision_id] = Notice(
            o.enterprise_name, o.enterprise_id, DISTRICT_NAMES_ZH[District(o.district)],
            rule.title, o.rule_id, o.amount_fen, o.decided_on, o.notice_until - timedelta(days=1),
        )  # fmt: skip
    return list(notices.values())


def _more(n: Notice, fen: int) -> Notice:
    return Notice(n.enterprise_name, n.enterprise_id, n.district, n.title, n.rule_id,
                  n.amount_fen + fen, n.starts, n.ends)  # fmt: skip


def _cells(i: int, n: Notice) -> tuple[str, ...]:
    return (str(i), n.enterprise_name, n.enterprise_id, n.district, n.title, n.rule_id,
            f"{n.amount_fen // 100}.{n.amount_fen % 100:02d}", n.period)  # fmt: skip


def as_csv(notices: list[Notice]) -> str:
    """The list as CSV (UTF-8 with a BOM when written, so that Excel reads it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_cells(i, n) for i, n in enumerate(notices, 1))
    return out.getvalue()


def as_html(notices: list[Notice], day: date, title: str) -> str:
    """The list as a page to publish: what is noticed, the period, how to object."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(i, n)) + "</tr>"
        for i, n in enumerate(notices, 1)
    )
    total = format_fen(sum(n.amount_fen for n in notices))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} 拟支持名单公示</title>"
        "<style>body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse;"
        "width:100%}td,th{border:1px solid #999;padding:.3rem;font-size:.9rem}"
        ".wrap{overflow-x:auto}</style></head><body>"
        f"<h1>{html.escape(title)}<br>拟支持名单公示</h1>"
        f"<p>公示日期：{day.isoformat()}。共 {len(notices)} 项，合计 {total}。"
        "公示期内对名单有异议的，可向各支持事项的责任单位实名提出，"
        "异议受理期间相关资金暂缓拨付。</p>"
        f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
        "</table></div></body></html>"
    )
