"""LedgerService answers as JSON, and the statement's payment lines."""

# Explanations for people are in subsidy.ledger.explain_view.

from typing import Any

from google.protobuf import json_format

from subsidy.api.v1 import api_pb2
from subsidy.domain.money import format_fen
from subsidy.infra.cli_output import Lang, pick


def _fen_fields(value: Any) -> Any:
    """protobuf's JSON writes int64 as strings; amounts stay integers of fen here."""
    if isinstance(value, dict):
        return {
            k: int(v)
            if isinstance(v, str) and (k.endswith("Fen") or k == "entitlements")
            else _fen_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_fen_fields(v) for v in value]
    return value


def as_json(message: Any) -> dict[str, Any]:
    """A response in protobuf's JSON mapping (lowerCamelCase, enums by name, every field),
    with the fen amounts as integers."""
    body = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    result: dict[str, Any] = _fen_fields(body)
    return result


_LEVELS = {"city": ("市级", "city"), "district": ("区级", "district")}


def _payment(p: api_pb2.EntitlementPayment, lang: Lang) -> str:
    """`市级 市科技局 ¥500,000.00 已拨付（2026年3月5日）`, with any part set off; in English
    the payouts' own English status."""
    level = pick(lang, *_LEVELS.get(p.level, (p.level, p.level)))
    status = pick(lang, p.status_zh, p.status_en or p.status_zh)
    text = f"{level} {p.channel} {format_fen(p.amount_fen)} {status} ({p.order_id})"
    if p.set_off_fen:
        off = format_fen(p.set_off_fen)
        text += pick(lang, f", 其中抵扣应退款 {off}", f", {off} of it set off against money owed")
    return text


def payment_lines(s: api_pb2.GetStatementResponse, lang: Lang = Lang.zh) -> list[str]:
    """One line per entitlement that has payment orders or a grant: its orders and where each
    stands, or that none was made yet."""
    by_entitlement: dict[str, list[api_pb2.EntitlementPayment]] = {}
    for p in s.payments:
        by_entitlement.setdefault(p.entitlement_id, []).append(p)
    lines = []
    for d in s.entitlements:
        orders = by_entitlement.get(d.entitlement_id, [])
        if orders:
            lines.append(f"{d.entitlement_id}: " + "; ".join(_payment(p, lang) for p in orders))
        elif d.granted_fen > 0:
            lines.append(f"{d.entitlement_id}: "
                         + pick(lang, "尚无支付指令", "no payment order yet"))  # fmt: skip
    return lines
