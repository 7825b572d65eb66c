"""Guard errors: an event the ledger must reject, raised before any state changes."""


class LedgerRejection(ValueError):
    """An event the ledger cannot apply; `field` names the offending field (docs/contract.md §1)."""

    field: str = "event"

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.field}: {message}")
        self.message = message


class DuplicateEventConflict(LedgerRejection):
    """The same eventId arrived before with different content."""

    field = "eventId"


class UnknownEventRef(LedgerRejection):
    """A review names an event the ledger has not seen for this enterprise, and cannot wait."""

    field = "reviewDecided.eventRef"


class UnknownReviewRule(LedgerRejection):
    """A review names a rule the referenced event did not trigger."""

    field = "reviewDecided.ruleId"


class UnknownObjectedEvent(LedgerRejection):
    """An objection names an event the enterprise's book does not hold (objections never wait:
    a public notice is of entitlements already decided)."""

    field = "objectionFiled.eventRef"


class UnknownObjectedRule(LedgerRejection):
    """An objection names a rule its event did not trigger: no such entitlement."""

    field = "objectionFiled.ruleId"


class PayeeNotRegisteredName(LedgerRejection):
    """A payee account whose account name is not the enterprise's registered name (the one
    its sources gave, never one typed in the portal), or of an enterprise no source has named
    yet: the payouts pay only an account in the name the enterprise was registered under."""

    field = "payeeAccountRegistered.accountName"


class UnknownAppealedEvent(LedgerRejection):
    """An appeal names an event the enterprise's book does not hold (appeals never wait)."""

    field = "appealFiled.eventRef"


class UnknownAppealedRule(LedgerRejection):
    """An appeal names a rule its event did not trigger: no such entitlement."""

    field = "appealFiled.ruleId"


class NotAppealable(LedgerRejection):
    """An appeal against an entitlement that is neither DENIED nor PARTIALLY_PAID."""

    field = "appealFiled.ruleId"


class AppealAlreadyOpen(LedgerRejection):
    """A second appeal against an entitlement while one is still open."""

    field = "appealFiled.eventRef"


class UnknownAppeal(LedgerRejection):
    """An appeal decision naming no open appeal of this enterprise (never filed, refused, or
    already decided)."""

    field = "appealDecided.appealRef"


class AppealEventMismatch(LedgerRejection):
    """An appeal decision whose eventRef is not the appealed entitlement's event."""

    field = "appealDecided.eventRef"


class AppealRuleMismatch(LedgerRejection):
    """An appeal decision whose ruleId is not the appealed entitlement's rule."""

    field = "appealDecided.ruleId"


class NoAppealDecider(LedgerRejection):
    """An appeal decision that names no principal: nobody can be held to it."""

    field = "submittedBy.principal"


class SameAsRejectingReviewer(LedgerRejection):
    """An appeal decided by the reviewer whose rejection it appeals: 复核 is someone else's."""

    field = "submittedBy.principal"


class AppealPartyApproves(LedgerRejection):
    """An approval of a review an upheld appeal reopened, by that appeal's decider or by the
    reviewer whose rejection it overturned, or naming nobody: the reopened review is paid on
    someone else's word, whatever the amount (docs/rules.md step 10)."""

    field = "submittedBy.principal"


class NotPendingReview(LedgerRejection):
    """A review for an entitlement that is not waiting for one."""

    field = "reviewDecided.eventRef"


class NoReviewer(LedgerRejection):
    """A large approval that names no reviewer principal: it cannot count as either of the
    two approvals four eyes need (docs/rules.md)."""

    field = "submittedBy.principal"


class SameReviewer(LedgerRejection):
    """A second approval by the reviewer who gave the first."""

    field = "submittedBy.principal"


class ApprovalMismatch(LedgerRejection):
    """A second approval that approves another amount than the first (which still waits)."""

    field = "reviewDecided.approvedAmountFen"


class UnknownCorrected(LedgerRejection):
    """A revision above 1 of an event the ledger never took: nothing to correct."""

    field = "revision"


class NotCorrectable(LedgerRejection):
    """A correction of an event that cannot be corrected: retracted, or a record acted on as it
    came (a payee account, an objection, an appeal or its decision), or a retraction."""

    field = "revision"


class CorrectionChangesEnterprise(LedgerRejection):
    """A correction names another enterprise than the event it corrects."""

    field = "enterpriseId"


class CorrectionChangesSource(LedgerRejection):
    """A correction comes from another source than the event it corrects."""

    field = "source"


class CorrectionChangesType(LedgerRejection):
    """A correction carries another kind of payload than the event it corrects."""

    field = "payload"


class UnknownRetracted(LedgerRejection):
    """A retraction names an event the ledger never took for this enterprise."""

    field = "eventRetracted.eventRef"


class NotRetractable(LedgerRejection):
    """A retraction of a retraction, of an event already retracted, or of a record the payouts
    acted on."""

    field = "eventRetracted.eventRef"


class HistoryNotKept(LedgerRejection):
    """A correction or retraction for an enterprise whose whole history the ledger does not
    keep (events taken before it kept them): it cannot be decided again."""

    field = "eventId"
