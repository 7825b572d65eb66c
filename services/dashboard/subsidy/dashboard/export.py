"""/export.xlsx: every panel of one year filter as a sheet, from the very state the page shows."""

import io
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from subsidy.domain.beijing import in_beijing
from subsidy.domain.money import FEN_PER_YUAN
from subsidy.infra.spreadsheet_cells import neutralise

Json = dict[str, Any]
# Yuan as numbers, shown as bureaus write them; shares as percentages.
YUAN_FORMAT = '"¥"#,##0.00'
PERCENT_FORMAT = "0.00%"
# A column: its header, how its cells are written (text, money from fen, count, share from
# basis points) and what of a row it shows.
Column = tuple[str, str, Callable[[Json], Any]]


def _key(name: str) -> Callable[[Json], Any]:
    return lambda row: row.get(name)


def _cell(kind: str, value: Any) -> Any:
    if value is None:
        return "—"
    if kind == "money":
        return Decimal(int(value)) / FEN_PER_YUAN  # exact: fen over a power of ten
    if kind == "share":
        return Decimal(int(value)) / 10_000
    if kind == "text":
        return neutralise(str(value))  # names come from outside: never a formula
    return value


def _sheet(wb: Workbook, title: str, columns: list[Column], rows: Iterable[Json]) -> None:
    ws = wb.create_sheet(title)
    ws.append([header for header, _, _ in columns])
    for row in rows:
        ws.append([_cell(kind, get(row)) for _, kind, get in columns])
    for index, (header, kind, _) in enumerate(columns, 1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = max(14, 2 * len(header) + 4)
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            if kind == "money" and not isinstance(cell.value, str):
                cell.number_format = YUAN_FORMAT
            elif kind == "share" and not isinstance(cell.value, str):
                cell.number_format = PERCENT_FORMAT
            elif kind == "text":
                cell.number_format = "@"  # a credit code stays text, never 9.13E+17
    ws.freeze_panes = "A2"


_TOTAL_COLUMNS: list[Column] = [
    ("事项", "count", _key("entitlements")), ("获拨付事项", "count", _key("paid")),
    ("已拨付金额（元）", "money", _key("grantedFen")),
    ("应追回金额（元）", "money", _key("clawbackFen")),
]  # fmt: skip


def _filter_sheet(wb: Workbook, state: Json, exported_at: datetime) -> None:
    ws = wb.active
    ws.title = "筛选条件"
    year = state.get("year")
    as_of = state.get("asOf")
    as_of_bj = None if as_of is None else in_beijing(datetime.fromisoformat(as_of))
    for row in (
        ("项目", "内容"),
        ("政策", state.get("policy", "")),
        ("年度", "全部年度" if year is None else f"{year}年"),
        ("导出时间（北京时间）", in_beijing(exported_at).isoformat(timespec="seconds")),
        (
            "数据时间（北京时间）",
            "" if as_of_bj is None else as_of_bj.isoformat(timespec="seconds"),
        ),
        ("金额单位", "元（¥）"),
    ):
        ws.append([neutralise(v) for v in row])
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 24, 60


def _trend_sheet(wb: Workbook, title: str, trends: Json, series: list[Json]) -> None:
    columns: list[Column] = [("月份", "text", _key("month"))]
    columns += [(f"{s['label']}（元）", "money", _key(s["key"])) for s in series]
    rows = [
        {"month": month, **{s["key"]: s["values"][i] for s in series}}
        for i, month in enumerate(trends["months"])
    ]
    _sheet(wb, title, columns, rows)


def workbook(state: Json, exported_at: datetime) -> bytes:
    """The XLSX of a state (/api/totals with its latest decisions): one sheet per panel,
    Chinese headers, money as yuan numbers with a ¥ format, and the filter and time first."""
    wb = Workbook()
    _filter_sheet(wb, state, exported_at)
    overall = {**state["overall"], "name": "合计"}
    _sheet(wb, "概览", [("范围", "text", _key("name")), *_TOTAL_COLUMNS,
                        ("决定数", "count", _key("decisions"))], [overall])  # fmt: skip
    _sheet(wb, "按条款", [("条款", "text", _key("label")), ("内容", "text", _key("title")),
                          *_TOTAL_COLUMNS], state["byMeasure"])  # fmt: skip
    _sheet(wb, "按地区", [("地区", "text", _key("name")), *_TOTAL_COLUMNS], state["byDistrict"])
    _sheet(wb, "按状态", [("状态", "text", _key("label")), ("事项", "count", _key("count"))],
           state["byStatus"])  # fmt: skip
    trends = state["trends"]
    _trend_sheet(wb, "月度趋势（条款）", trends, trends["byMeasure"])
    _trend_sheet(wb, "月度趋势（地区）", trends, trends["byDistrict"])
    _sheet(wb, "资金渠道", [
        ("资金渠道", "text", _key("channel")),
        ("核定拨付（元）", "money", _key("grantedFen")),
        ("拨付指令（元）", "money", _key("orderedFen")),
        ("已发放（元）", "money", _key("paidOutFen")),
        ("发放中（元）", "money", _key("inBatchFen")),
        ("待发放（元）", "money", _key("pendingFen")),
        ("已抵扣（元）", "money", _key("setOffFen")),
        ("预算（元）", "money", _key("envelopeFen")),
        ("已承诺（元）", "money", _key("committedFen")),
        ("预算执行率", "share", _key("usedBasisPoints")),
    ], state["channels"])  # fmt: skip
    _cap_sheets(wb, state["caps"])
    _payout_sheets(wb, state)
    _sheet(wb, "最新决定", [
        ("时间（北京时间）", "text", _key("time")),
        ("企业", "text", _key("enterpriseName")),
        ("统一社会信用代码", "text", _key("enterpriseId")),
        ("地区", "text", _key("districtName")),
        ("条款", "text", _key("rule")),
        ("状态", "text", _key("statusLabel")),
        ("核定拨付（元）", "money", _key("grantedFen")),
        ("本次变动（元）", "money", _key("cashDeltaFen")),
    ], state.get("latest", []))  # fmt: skip
    raw = io.BytesIO()
    wb.properties.creator = "subsidy dashboard"
    wb.save(raw)
    return raw.getvalue()


def _payout_sheets(wb: Workbook, state: Json) -> None:
    payouts = state["payouts"]
    _sheet(wb, "资金拨付", [
        ("资金渠道", "text", _key("channel")),
        ("年度", "count", _key("year")),
        ("应拨付（元）", "money", _key("grantedFen")),
        ("已发放（元）", "money", _key("paidOutFen")),
        ("发放中（元）", "money", _key("inBatchFen")),
        ("待推送（元）", "money", _key("payableFen")),
        ("暂缓推送（元）", "money", _key("waitingFen")),
        ("已抵扣（元）", "money", _key("setOffFen")),
        ("应收未收回（元）", "money", _key("outstandingFen")),
    ], payouts["disbursement"])  # fmt: skip
    _sheet(wb, "预算执行", [
        ("资金渠道", "text", _key("channel")),
        ("年度", "count", _key("year")),
        ("预算（元）", "money", _key("envelopeFen")),
        ("已承诺（元）", "money", _key("committedFen")),
        ("余额（元）", "money", _key("remainingFen")),
        ("执行率", "share", _key("usedBasisPoints")),
    ], payouts["budget"])  # fmt: skip


def _cap_sheets(wb: Workbook, caps: Json) -> None:
    _sheet(wb, "年度上限", [
        ("规则", "text", _key("rule")),
        ("年度", "count", _key("year")),
        ("获拨付企业", "count", _key("enterprises")),
        ("已拨付（元）", "money", _key("grantedFen")),
        ("上限合计（元）", "money", _key("capFen")),
        ("使用率", "share", _key("usedBasisPoints")),
        ("≥90%企业", "count", _key("nearCap")),
        ("已达上限企业", "count", _key("atCap")),
    ], caps["rules"])  # fmt: skip
    _sheet(wb, "接近上限企业", [
        ("统一社会信用代码", "text", _key("enterpriseId")),
        ("企业", "text", _key("enterpriseName")),
        ("地区", "text", _key("districtName")),
        ("规则", "text", _key("rule")),
        ("年度", "count", _key("year")),
        ("已拨付（元）", "money", _key("grantedFen")),
        ("年度上限（元）", "money", _key("capFen")),
        ("使用率", "share", _key("usedBasisPoints")),
    ], caps["near"])  # fmt: skip
