"""Entitlements: what one rule gives for one event, with statuses, reasons and a readable trace."""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from subsidy.domain.catalog import Award
from subsidy.domain.record import record


class Status(StrEnum):
    """An entitlement's state (docs/contract.md §2); ELIGIBLE only until the ledger decides."""

    ELIGIBLE = "ELIGIBLE"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    DENIED = "DENIED"
    PENDING_REVIEW = "PENDING_REVIEW"
    REFERRED = "REFERRED"
    RECORDED = "RECORDED"
    SUPERSEDED = "SUPERSEDED"
    REVOKED = "REVOKED"
    # Its event was retracted, or corrected so that it no longer gives this entitlement.
    RETRACTED = "RETRACTED"


# What a bureau calls each status, in the order a summary lists them.
STATUS_LABELS_ZH: dict[str, str] = {
    Status.PAID: "已拨付",
    Status.PARTIALLY_PAID: "部分拨付",
    Status.PENDING_REVIEW: "待审核",
    Status.DENIED: "不予支持",
    Status.SUPERSEDED: "就高替代",
    Status.REVOKED: "已撤销",
    Status.RETRACTED: "已撤回",
    Status.REFERRED: "转责任单位",
    Status.RECORDED: "已登记",
    Status.ELIGIBLE: "符合条件",
}


class Reason(StrEnum):
    """Why an entitlement got less than it asked for, or nothing (docs/contract.md §2)."""

    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    YEAR_LIMIT = "YEAR_LIMIT"
    ANNUAL_CAP = "ANNUAL_CAP"
    ITEM_CAP = "ITEM_CAP"
    DUPLICATE_LOWER = "DUPLICATE_LOWER"
    OTHER_SUPPORT = "OTHER_SUPPORT"
    CEILING_CLIPPED = "CEILING_CLIPPED"
    REVIEW_REJECTED = "REVIEW_REJECTED"


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of an explanation a person can read, labelled in Chinese and English."""

    key: str
    label_zh: str
    label_en: str
    value: str


@record
class Entitlement:
    """Eligibility's verdict for one (event, rule): the amount the rule alone gives, and the
    limits the ledger must apply to it."""

    entitlement_id: str
    event_id: str
    enterprise_id: str
    rule_id: str
    item_id: str
    occurred_on: date
    measure: int
    award: Award
    status: Status
    entitled_fen: int
    catalog_rank: int
    catalog_version: str
    clause: str
    funding_channels: tuple[str, ...]
    valid_from: date
    valid_to: date
    reasons: tuple[Reason, ...] = ()
    stage: int = 0
    # Ceiling after any uplift: a later review's approved amount is clipped to it.
    ceiling_fen: int | None = None
    annual_cap_fen: int | None = None
    item_cap_fen: int | None = None
    max_years: int | None = None
    # An approval of at least this much acts only once two distinct reviewers gave it.
    second_review_from_fen: int | None = None
    # The days the catalog version is in force (None: unbounded on that side). Information for
    # readers, not a term: two services holding documents that end the version on different
    # days still agree on the entitlement.
    version_from: date | None = field(default=None, compare=False)
    version_to: date | None = field(default=None, compare=False)
    trace: tuple[TraceStep, ...] = field(default=(), compare=False)

    @property
    def year(self) -> int:
        """Calendar year of the event's date: the year caps are counted in."""
        return self.occurred_on.year


def clip_to_ceiling(amount_fen: int, ceiling_fen: int | None) -> tuple[int, bool]:
    """An approved amount limited to the rule's ceiling, and whether it was clipped."""
    if ceiling_fen is not None and amount_fen > ceiling_fen:
        return ceiling_fen, True
    return amount_fen, False
