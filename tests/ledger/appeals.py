"""An enterprise's appeals for the ledger's PostgreSQL tests."""

# One upheld on a review's rejection (reopened), one upheld on an annual-cap denial (the source's
# correction is the remedy), one dismissed, and a later correction that decides the enterprise's
# history again.

from typing import Any

from tests.factories import enterprise_id
from tests.ledger.api import feed_event

FIRM = enterprise_id(900_201)
EXPO = "apl-expo-1/m06.exhibition"  # reopened
CAPPED = "apl-inv-2/m08.compute_voucher"  # upheld: the source corrects its event
KEPT = "apl-expo-2/m06.exhibition"  # dismissed
FILED = ("apl-expo-1p", "apl-inv-2p", "apl-expo-2p")


def _by(who: str) -> dict[str, Any]:
    return {"submittedBy": {"principal": who, "channel": "GRPC_API"}}


def _event(event_id: str, day: str, **payload: Any) -> Any:
    return feed_event(event_id, FIRM, "SIP", day, **payload)


def _invoice(event_id: str, fen: int, **extra: Any) -> Any:
    return _event(event_id, "2025-09-01", **_by("invoice-portal"), **extra,
                  computeInvoiceFiled={"itemId": f"INV-{event_id}", "amountFen": fen})  # fmt: skip


def _rejected_expo(n: int) -> list[Any]:
    expo = f"apl-expo-{n}"
    return [
        _event(expo, "2025-08-01", exhibitionHeld={"itemId": f"expo-{n}"}),
        _event(f"{expo}r", "2025-08-05", **_by("reviewer-wang"), reviewDecided={
            "eventRef": expo, "ruleId": "m06.exhibition", "approved": False}),
    ]  # fmt: skip


def _appeal(event_ref: str, rule_id: str, reason: str, **extra: Any) -> Any:
    return _event(f"{event_ref}p", "2025-09-10", **_by("portal-enterprise"), appealFiled={
        "eventRef": event_ref, "ruleId": rule_id, "reason": reason, **extra})  # fmt: skip


def _decide(event_ref: str, rule_id: str, upheld: bool, reason: str) -> Any:
    return _event(f"{event_ref}d", "2025-09-20", **_by("reviewer-li"), appealDecided={
        "appealRef": f"{event_ref}p", "eventRef": event_ref, "ruleId": rule_id,
        "upheld": upheld, "reason": reason})  # fmt: skip


def appeal_events() -> list[Any]:
    """m06 is a review rule; m08 pays 20% of an invoice, at most ¥2,000,000.00 a year, so the
    second invoice is denied at the annual cap."""
    expo, voucher = "m06.exhibition", "m08.compute_voucher"
    return [
        *_rejected_expo(1),
        _appeal("apl-expo-1", expo, "展会规模与参展商数量均符合要求",
                attachmentRef="file-20250910-001"),
        _decide("apl-expo-1", expo, True, "材料齐全，重新审核"),
        _invoice("apl-inv-1", 1_000_000_000),
        _invoice("apl-inv-2", 100_000_000),
        _appeal("apl-inv-2", voucher, "年度额度计算有误"),
        _decide("apl-inv-2", voucher, True, "请数据来源更正发票"),
        *_rejected_expo(2),
        _appeal("apl-expo-2", expo, "展会规模符合要求"),
        _decide("apl-expo-2", expo, False, "参展商数量不足"),
    ]  # fmt: skip


def correction() -> list[Any]:
    """A third invoice, then its correction: the enterprise's history, appeals included, is
    decided again."""
    corrected = {"revision": 2, "correctionReason": "发票金额录入错误"}
    return [_invoice("apl-inv-3", 50_000_000), _invoice("apl-inv-3", 40_000_000, **corrected)]
