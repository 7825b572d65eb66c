"""What the ledger writes: entitlement state, decisions (revisions), postings and checks."""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from subsidy.domain.entitlements import Entitlement, Reason, Status
from subsidy.domain.money import format_fen
from subsidy.domain.record import record

# An entitlement holds money (and counts against caps) only in these states.
GRANTED = frozenset({Status.PAID, Status.PARTIALLY_PAID})


class PostingKind(StrEnum):
    """Kinds of journal entries; the sum of the entitlement-account kinds equals grantedFen."""

    GRANT = "GRANT"  # paid to the enterprise under this entitlement
    SUPERSEDE = "SUPERSEDE"  # moved to a higher rule on the same item (就高不重复)
    REVOKE = "REVOKE"  # certification withdrawn
    OTHER_SUPPORT = "OTHER_SUPPORT"  # reduced by support from another city programme
    CLAWBACK = "CLAWBACK"  # receivable: cash paid that the enterprise owes back
    # The difference a correction or retraction made (docs/rules.md, Corrections): either sign.
    CORRECTION = "CORRECTION"


# Postings that move an entitlement's granted amount (CLAWBACK is a separate receivable).
GRANT_ACCOUNT = frozenset(
    {
        PostingKind.GRANT,
        PostingKind.SUPERSEDE,
        PostingKind.REVOKE,
        PostingKind.OTHER_SUPPORT,
        PostingKind.CORRECTION,
    }
)


# A check's figure as the ledger computed it: fen as int, a date, or text already shown.
Figure = int | date | str | None


def show(value: Figure) -> str:
    """A figure as a bureau reads it: ¥ amounts, ISO dates, "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return format_fen(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@record
class Check:
    """One ledger check with its figures, for ExplainDecision. The figures stay raw until
    someone reads them: most decisions are never explained, so formatting is left to `numbers`."""

    check: str
    outcome: str
    figures: tuple[tuple[str, Figure], ...] = ()

    @property
    def numbers(self) -> dict[str, str]:
        """The figures as text, by name."""
        return {name: show(value) for name, value in self.figures}


@dataclass(slots=True)
class EntitlementState:
    """The ledger's current view of one entitlement."""

    ent: Entitlement
    status: Status
    reasons: tuple[Reason, ...]
    entitled_fen: int
    # After the rule's own caps, before stacking and other support: what 就高 compares.
    capped_fen: int = 0
    granted_fen: int = 0
    clawback_fen: int = 0
    revision: int = 0
    enterprise_name: str = ""
    district: str = ""

    @property
    def counts_for_item(self) -> bool:
        """Does its capped amount count in the item comparison? Grants do, and so do amounts
        that other-programme support absorbed (the rule still gives them, 就高 compares them)."""
        return self.status in GRANTED or (
            self.status is Status.DENIED and Reason.OTHER_SUPPORT in self.reasons
        )


@record
class Posting:
    """One append-only journal entry."""

    entitlement_id: str
    kind: PostingKind
    amount_fen: int
    event_id: str  # the event that caused it
    # The facts it is booked under when not the entitlement's current ones: a correction that
    # moved an entitlement to another year or item reverses it under the old facts.
    facts: Entitlement | None = None
    district: str | None = None  # with `facts`: the district it was booked in


@record
class CorrectionNote:
    """Why a decision was made again: the correction or retraction, and what it replaced."""

    event_id: str  # the corrected or retracted event
    revision: int  # the revision now in force; 0 when the event was retracted
    reason: str  # the correctionReason, or the retraction's reason
    retracted_by: str | None  # the eventRetracted's id, for a retraction
    previous_status: Status | None  # None for an entitlement the correction created
    previous_granted_fen: int


@record
class AppealNote:
    """Why a decision was made again: an upheld appeal reopened the entitlement for review."""

    appeal_ref: str  # the appealFiled's event id
    reason: str  # the appealDecided's reason
    decided_by: str  # who decided the appeal


@record
class Decision:
    """A new revision of an entitlement's state, as published on decisions.v1."""

    state_ent: Entitlement
    status: Status
    reasons: tuple[Reason, ...]
    entitled_fen: int
    granted_fen: int
    clawback_fen: int
    cash_delta_fen: int
    revision: int
    caused_by_event_id: str
    enterprise_name: str
    district: str
    checks: tuple[Check, ...] = ()
    correction: CorrectionNote | None = None
    appeal: AppealNote | None = None

    @property
    def decision_id(self) -> str:
        """`<entitlementId>#<revision>`: the notifier's idempotency key."""
        return f"{self.state_ent.entitlement_id}#{self.revision}"


@record
class Approval:
    """A first approval at or above the rule's four-eyes threshold, awaiting a second one."""

    entitlement_id: str
    event_id: str  # the review that gave it
    principal: str  # who gave it
    amount_fen: int  # the amount it approved, as the review stated it


@record
class PayeeAccount:
    """A payee account registration (收款账户), as the ledger records it in payee_accounts: an
    enterprise's current account is its latest; earlier ones stay recorded."""

    event_id: str
    enterprise_id: str
    bank_name: str
    account_number: str
    account_name: str
    registered_on: date  # the event's occurredOn


@record
class Objection:
    """An objection (异议) filed during a public notice against a known entitlement, as the
    ledger records it in objections. It changes no entitlement."""

    event_id: str
    enterprise_id: str
    entitlement_id: str
    reason: str
    filed_on: date  # the event's occurredOn


class Remedy(StrEnum):
    """What an upheld appeal does (docs/rules.md step 10)."""

    REOPENED = "REOPENED"  # a review's rejection: the entitlement is PENDING_REVIEW again
    SOURCE_CORRECTION = "SOURCE_CORRECTION"  # a rule's denial or cut: its source corrects it


@record
class Appeal:
    """An appeal (复核申请) against a denial or a reduction, as the ledger records it in
    appeals. It changes no entitlement; while no decision closes it, it is open."""

    event_id: str
    enterprise_id: str
    entitlement_id: str
    reason: str
    attachment_ref: str | None
    filed_by: str | None  # submittedBy.principal
    filed_on: date  # the event's occurredOn
    # Who rejected the entitlement's review, if a review did: the appeal goes to someone else.
    rejected_by: str | None


@dataclass(slots=True)
class Reopened:
    """Who may not approve an entitlement's review that upheld appeals reopened: each such
    appeal's decider, and each reviewer whose rejection one overturned (docs/rules.md step 10)."""

    deciders: set[str] = field(default_factory=set)
    rejecters: set[str] = field(default_factory=set)


@record
class AppealDecision:
    """A bureau's decision on an appeal, as the ledger records it in appeal_decisions."""

    event_id: str
    appeal_id: str
    enterprise_id: str
    entitlement_id: str
    upheld: bool
    reason: str
    decided_by: str
    decided_on: date  # the event's occurredOn
    remedy: Remedy | None  # None when dismissed


@dataclass(slots=True)
class Outcome:
    """What processing one event changed (and what the reviews it released changed)."""

    event_id: str
    decisions: list[Decision] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    duplicate: bool = False
    # A review set aside until the event it refers to arrives (nothing changed yet).
    parked: bool = False
    # Parked reviews this event released: applied, or refused with the error.
    released: list[str] = field(default_factory=list)
    released_rejections: list[tuple[str, str]] = field(default_factory=list)
    # First approvals recorded (four eyes), and entitlements whose first approval ended: a
    # second approval acted on it, a rejection or a revocation made it moot.
    approvals: list[Approval] = field(default_factory=list)
    approvals_settled: list[tuple[str, str]] = field(default_factory=list)  # (entitlement, by)
    # Records for the payouts to read: payee accounts registered, objections filed.
    payee_accounts: list[PayeeAccount] = field(default_factory=list)
    objections: list[Objection] = field(default_factory=list)
    # Appeals filed and decided (docs/rules.md step 10).
    appeals: list[Appeal] = field(default_factory=list)
    appeal_decisions: list[AppealDecision] = field(default_factory=list)
    # A correction or retraction: the enterprise's history decided again (corrections.py).
    redecided: "Redecided | None" = None


@dataclass(slots=True)
class Redecided:
    """An enterprise's book after its corrected history was decided again, and what became of
    each event of that history: 'applied', 'parked' or 'rejected' (the service's inbox)."""

    fates: dict[str, str]
    retracted: str | None = None  # the event a retraction withdrew
    # Appeals and appeal decisions the corrected history applied: recorded where not yet.
    appeals: list[Appeal] = field(default_factory=list)
    appeal_decisions: list[AppealDecision] = field(default_factory=list)
