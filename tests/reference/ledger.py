"""A brute-force second ledger, written from the rules text alone, to diff the real one against."""

# Why it exists: the real ledger keeps counters and indexes for speed, and a bug there (a
# counter updated on one path but not another) hides from tests written by the same hand.
# This one keeps only the plain facts (every entitlement, every other-support record, every
# parked review) and recomputes each total by scanning all of them whenever it needs one,
# so it is slow and hard to get wrong. Its numbered steps are those of the rules text ("How
# limits combine"); it is meant to be read as well as run.

from dataclasses import dataclass, field

from subsidy.domain.entitlements import Entitlement, Reason, Status, clip_to_ceiling
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import CertificationRevoked, OtherSupportReceived, ReviewDecided
from subsidy.domain.ledger.errors import (
    ApprovalMismatch,
    DuplicateEventConflict,
    LedgerRejection,
    NoReviewer,
    NotPendingReview,
    SameReviewer,
    UnknownEventRef,
    UnknownReviewRule,
)
from tests.reference.objections import check_objection

# Reviews that may wait for their event, per enterprise; one more is refused.
MAX_PARKED = 100
_HOLDS_MONEY = frozenset({Status.PAID, Status.PARTIALLY_PAID})


@dataclass(frozen=True)
class View:
    """What the tests compare of one entitlement."""

    status: Status
    reasons: frozenset[Reason]
    entitled_fen: int
    granted_fen: int
    clawback_fen: int


@dataclass
class _Ent:
    """One entitlement and where the ledger has got with it."""

    ent: Entitlement
    status: Status
    reasons: list[Reason]
    entitled_fen: int
    capped_fen: int = 0
    granted_fen: int = 0
    clawback_fen: int = 0

    @property
    def stands(self) -> bool:
        """Counts in its rule's level: it holds money, or other support absorbed it."""
        return self.status in _HOLDS_MONEY or (
            self.status is Status.DENIED and Reason.OTHER_SUPPORT in self.reasons
        )

    def add_reason(self, reason: Reason) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def deny(self, reason: Reason) -> None:
        self.status = Status.DENIED
        self.capped_fen = 0
        self.add_reason(reason)


@dataclass
class _FirstApproval:
    """Four eyes: an approval of S/R that reached the threshold, and whether it still waits."""

    entitlement_id: str
    reviewer: str
    amount_fen: int
    waiting: bool = True


@dataclass(frozen=True)
class _Support:
    enterprise_id: str
    item_id: str
    amount_fen: int


@dataclass
class ReferenceLedger:
    """Decides events one at a time; every total is a fresh scan of everything kept."""

    _ents: list[_Ent] = field(default_factory=list)
    _support: list[_Support] = field(default_factory=list)
    _parked: list[Evaluation] = field(default_factory=list)
    _first_approvals: list[_FirstApproval] = field(default_factory=list)
    # Every id that arrived (applied, parked or refused) and its content hash.
    _hashes: dict[str, str] = field(default_factory=dict)
    # (enterprise, event id) of every event applied: what a review may refer to.
    _applied: set[tuple[str, str]] = field(default_factory=set)
    # Every refused event id and why, released reviews that were then refused included.
    refusals: dict[str, LedgerRejection] = field(default_factory=dict)

    # --- the API the tests use ---

    def process(self, evaluation: Evaluation, content_hash: str) -> None:
        """Apply one event, or park it, or raise the LedgerRejection that refuses it."""
        event = evaluation.event
        try:
            self._take(evaluation, content_hash)
        except LedgerRejection as err:
            self.refusals[event.event_id] = err
            raise

    def states(self) -> dict[str, View]:
        return {
            x.ent.entitlement_id: View(
                x.status, frozenset(x.reasons), x.entitled_fen, x.granted_fen, x.clawback_fen
            )
            for x in self._ents
        }

    def parked(self) -> set[str]:
        return {p.event.event_id for p in self._parked}

    def rejected(self) -> set[str]:
        return set(self.refusals)

    # --- arrival: duplicates, parking, release ---

    def _take(self, evaluation: Evaluation, content_hash: str) -> None:
        event = evaluation.event
        seen = self._hashes.get(event.event_id)
        if seen is not None:
            if seen == content_hash:
                return
            raise DuplicateEventConflict(f"{event.event_id} arrived before with other content")
        # Its id is taken whatever comes of it: a resend of a refused event is a no-op too.
        self._hashes[event.event_id] = content_hash
        review = event.review_decided
        if review is not None and (event.enterprise_id, review.event_ref) not in self._applied:
            waiting = [p for p in self._parked if p.event.enterprise_id == event.enterprise_id]
            if len(waiting) >= MAX_PARKED:
                raise UnknownEventRef(f"{review.event_ref} not seen, and {MAX_PARKED} wait")
            self._parked.append(evaluation)
            return
        self._apply(evaluation)
        self._release(event.enterprise_id, event.event_id)

    def _release(self, enterprise_id: str, event_id: str) -> None:
        """Parked reviews of this event, in their arrival order, as if they arrived now."""
        for parked in [
            p
            for p in self._parked
            if p.event.enterprise_id == enterprise_id
            and p.event.review_decided is not None
            and p.event.review_decided.event_ref == event_id
        ]:
            self._parked.remove(parked)
            try:
                self._apply(parked)
            except LedgerRejection as err:
                self.refusals[parked.event.event_id] = err
                continue
            self._release(enterprise_id, parked.event.event_id)

    def _apply(self, evaluation: Evaluation) -> None:
        """Checks first, so a refused event changes nothing."""
        event = evaluation.event
        payload = event.payload
        if isinstance(payload, ReviewDecided):
            reviewer = event.submitted_by.principal if event.submitted_by else None
            self._review(event.enterprise_id, payload, reviewer)
        elif isinstance(payload, CertificationRevoked):
            self._revoke(event.enterprise_id, payload.item_id)
        elif isinstance(payload, OtherSupportReceived):
            self._other_support(event.enterprise_id, payload.item_id, payload.amount_fen)
        elif event.objection_filed is not None:
            check_objection(event.enterprise_id, event.objection_filed, self._applied,
                            (x.ent for x in self._ents))  # fmt: skip
        else:
            self._new(evaluation.entitlements)
        self._applied.add((event.enterprise_id, event.event_id))

    # --- totals, each a scan of everything ---

    def _on_item(self, enterprise_id: str, item_id: str) -> list[_Ent]:
        return [
            x
            for x in self._ents
            if x.ent.enterprise_id == enterprise_id and x.ent.item_id == item_id
        ]

    def _level(self, enterprise_id: str, item_id: str, rule_id: str) -> int:
        """R's level on I: the capped amounts of its standing entitlements there."""
        return sum(
            x.capped_fen
            for x in self._on_item(enterprise_id, item_id)
            if x.ent.rule_id == rule_id and x.stands
        )

    def _paid(self, enterprise_id: str, item_id: str, rule_id: str) -> int:
        return sum(
            x.granted_fen for x in self._on_item(enterprise_id, item_id) if x.ent.rule_id == rule_id
        )

    def _granted_in_year(self, enterprise_id: str, rule_id: str, year: int) -> int:
        return sum(
            x.granted_fen
            for x in self._ents
            if (x.ent.enterprise_id, x.ent.rule_id, x.ent.year) == (enterprise_id, rule_id, year)
        )

    def _years_with_money(self, enterprise_id: str, rule_id: str) -> set[int]:
        years = {x.ent.year for x in self._ents if x.ent.enterprise_id == enterprise_id}
        return {y for y in years if self._granted_in_year(enterprise_id, rule_id, y) > 0}

    def _other_support_on(self, enterprise_id: str, item_id: str) -> int:
        return sum(
            s.amount_fen
            for s in self._support
            if (s.enterprise_id, s.item_id) == (enterprise_id, item_id)
        )

    def _level_of(self, x: _Ent) -> int:
        return self._level(x.ent.enterprise_id, x.ent.item_id, x.ent.rule_id)

    # --- a new entitlement: steps 1 to 5 ---

    def _new(self, entitlements: tuple[Entitlement, ...]) -> None:
        fresh = [_Ent(e, e.status, list(e.reasons), e.entitled_fen) for e in entitlements]
        eligible = []
        for x in fresh:
            e = x.ent
            # 1. Window, whatever eligibility said.
            if not e.valid_from <= e.occurred_on <= e.valid_to:
                x.deny(Reason.OUTSIDE_WINDOW)
            elif x.status is Status.ELIGIBLE:
                eligible.append(x)
        self._decide(eligible)
        self._ents.extend(fresh)

    def _decide(self, candidates: list[_Ent]) -> None:
        """Steps 2 to 5 for the eligible entitlements of one event (or one approved review)."""
        # 2 and 3 are each rule's own limits: the candidates are of different rules, so
        # deciding them against the same state (before any of them is granted) is exact.
        reaching = [x for x in candidates if self._within_own_limits(x)]
        if not reaching:
            return
        # 4. Same event: the highest (level + capped) goes on, a tie to the catalog's first.
        best = max(reaching, key=lambda x: (self._level_of(x) + x.capped_fen, -x.ent.catalog_rank))
        for x in reaching:
            if x is not best:
                x.deny(Reason.DUPLICATE_LOWER)
        self._no_stacking(best)

    def _within_own_limits(self, x: _Ent) -> bool:
        e = x.ent
        # 2. Year limit: money under R in N years other than this one already.
        if e.max_years is not None:
            others = self._years_with_money(e.enterprise_id, e.rule_id) - {e.year}
            if len(others) >= e.max_years:
                x.deny(Reason.YEAR_LIMIT)
                return False
        # 3. Caps: the smallest of the amount asked and every room.
        rooms: dict[Reason, int] = {}
        if e.annual_cap_fen is not None:
            used = self._granted_in_year(e.enterprise_id, e.rule_id, e.year)
            rooms[Reason.ANNUAL_CAP] = max(0, e.annual_cap_fen - used)
        if e.item_cap_fen is not None:
            rooms[Reason.ITEM_CAP] = max(0, e.item_cap_fen - self._level_of(x))
        capped = min([x.entitled_fen, *rooms.values()])
        if capped < x.entitled_fen:
            for reason, room in rooms.items():
                if room == capped:
                    x.add_reason(reason)
            if capped == 0:
                x.status = Status.DENIED
                return False
        x.capped_fen = capped
        return True

    def _no_stacking(self, x: _Ent) -> None:
        """5. 就高不重复 against every other rule on the item, and other support."""
        e = x.ent
        total = self._level_of(x) + x.capped_fen
        others = [
            y
            for y in self._on_item(e.enterprise_id, e.item_id)
            if y.ent.rule_id != e.rule_id and y.stands
        ]
        highest_other = max((self._level_of(y) for y in others), default=0)
        if total <= highest_other:
            x.deny(Reason.DUPLICATE_LOWER)
            return
        for y in others:
            y.status = Status.SUPERSEDED
            y.granted_fen = 0
        room = (
            total
            - self._other_support_on(e.enterprise_id, e.item_id)
            - self._paid(e.enterprise_id, e.item_id, e.rule_id)
        )
        x.granted_fen = max(0, min(x.capped_fen, room))
        if x.granted_fen < x.capped_fen or x.granted_fen == 0:
            x.add_reason(Reason.OTHER_SUPPORT)
        if x.granted_fen == 0:
            # Still stands (DENIED for OTHER_SUPPORT) with its capped amount.
            x.status = Status.DENIED
        elif x.granted_fen == x.entitled_fen:
            x.status = Status.PAID
        else:
            x.status = Status.PARTIALLY_PAID

    # --- events that change what exists: steps 6 to 8 ---

    def _waiting_approval(self, entitlement_id: str) -> _FirstApproval | None:
        for a in self._first_approvals:
            if a.entitlement_id == entitlement_id and a.waiting:
                return a
        return None

    def _review(self, enterprise_id: str, review: ReviewDecided, reviewer: str | None) -> None:
        """6. The review of S/R: only an entitlement waiting for one; four eyes for large
        approvals."""
        wanted = f"{review.event_ref}/{review.rule_id}"
        found = [x for x in self._ents if x.ent.entitlement_id == wanted]
        if not found or found[0].ent.enterprise_id != enterprise_id:
            raise UnknownReviewRule(f"{review.event_ref} triggered no {review.rule_id}")
        x = found[0]
        if x.status is not Status.PENDING_REVIEW:
            raise NotPendingReview(f"{wanted} is {x.status.value}, not awaiting a review")
        first = self._waiting_approval(wanted)
        if not review.approved:
            if first is not None:
                first.waiting = False
            x.deny(Reason.REVIEW_REJECTED)
            return
        assert review.approved_amount_fen is not None
        amount, clipped = clip_to_ceiling(review.approved_amount_fen, x.ent.ceiling_fen)
        threshold = x.ent.second_review_from_fen
        large = threshold is not None and amount >= threshold
        if first is not None or large:
            # Four eyes: a first approval waits; only a second one by another reviewer with
            # the same amount goes on.
            if reviewer is None:
                raise NoReviewer(f"{wanted}: a large approval with no reviewer")
            if first is None:
                self._first_approvals.append(
                    _FirstApproval(wanted, reviewer, review.approved_amount_fen)
                )
                return
            if reviewer == first.reviewer:
                raise SameReviewer(f"{wanted}: {reviewer} approved it already")
            if review.approved_amount_fen != first.amount_fen:
                raise ApprovalMismatch(f"{wanted}: {first.amount_fen} approved first")
            first.waiting = False
        x.entitled_fen = amount
        if clipped:
            x.add_reason(Reason.CEILING_CLIPPED)
        x.status = Status.ELIGIBLE
        # Not the window again: that was checked when S arrived.
        self._decide([x])

    def _revoke(self, enterprise_id: str, item_id: str) -> None:
        """7. Everything standing, awaiting review or rejected by its review on the item is
        revoked, money clawed: a rejection left DENIED could be reopened by an appeal."""
        for x in self._on_item(enterprise_id, item_id):
            rejected = x.status is Status.DENIED and Reason.REVIEW_REJECTED in x.reasons
            if x.stands or rejected or x.status is Status.PENDING_REVIEW:
                first = self._waiting_approval(x.ent.entitlement_id)
                if first is not None:
                    first.waiting = False
                x.clawback_fen += x.granted_fen
                x.granted_fen = 0
                x.status = Status.REVOKED

    def _other_support(self, enterprise_id: str, item_id: str, amount_fen: int) -> None:
        """8. Each rule with money keeps only its level above the other support."""
        self._support.append(_Support(enterprise_id, item_id, amount_fen))
        on_item = self._on_item(enterprise_id, item_id)
        for rule_id in sorted({x.ent.rule_id for x in on_item if x.granted_fen > 0}):
            keep = max(
                0,
                self._level(enterprise_id, item_id, rule_id)
                - self._other_support_on(enterprise_id, item_id),
            )
            excess = self._paid(enterprise_id, item_id, rule_id) - keep
            paid = [x for x in on_item if x.ent.rule_id == rule_id and x.granted_fen > 0]
            for x in reversed(paid):  # the entitlement created last gives way first
                if excess <= 0:
                    break
                back = min(x.granted_fen, excess)
                x.granted_fen -= back
                x.clawback_fen += back
                excess -= back
                x.add_reason(Reason.OTHER_SUPPORT)
                x.status = Status.PARTIALLY_PAID if x.granted_fen else Status.DENIED
