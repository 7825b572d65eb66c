"""One enterprise's book: every limit of "How limits combine" (docs/rules.md) applied in order."""

# All limits are per enterprise (annual caps per enterprise-year, item caps and 就高不重复 per
# enterprise-item, year limits per enterprise-rule), so the enterprise is the unit of consistency:
# one book is decided alone, and the service locks one row per enterprise.
#
# Each decision reads as a short sequence of named steps. Guards (`_guard_*`) raise a specific
# LedgerRejection before anything is written to the book, so a refused event leaves no trace.

from subsidy.domain.entitlements import Reason, Status, clip_to_ceiling
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import (
    CertificationRevoked,
    EnterpriseEvent,
    ObjectionFiled,
    OtherSupportReceived,
    PayeeAccountRegistered,
    ReviewDecided,
)
from subsidy.domain.ledger import appeals, four_eyes, items
from subsidy.domain.ledger import checks as check
from subsidy.domain.ledger.errors import (
    LedgerRejection,
    NotPendingReview,
    PayeeNotRegisteredName,
    UnknownEventRef,
    UnknownObjectedEvent,
    UnknownObjectedRule,
    UnknownReviewRule,
)
from subsidy.domain.ledger.records import (
    Approval,
    Check,
    EntitlementState,
    Objection,
    Outcome,
    PayeeAccount,
)
from subsidy.domain.ledger.stacking import stack
from subsidy.domain.ledger.state import BookState, add_reasons, deny

# Reviews that may wait for their event per enterprise: enough for any real backlog between two
# bureaus' feeds, small enough that a feed of stray reviews cannot grow a book without bound.
PARK_LIMIT = 100


def _cap(
    name: str, reason: Reason, cap: int, used: int, asked: int, checks: list[Check]
) -> tuple[Reason, int]:
    """One cap of step 3: its room before this grant, and its check with the figures."""
    room = max(0, cap - used)
    checks.append(check.cap(name, reason, cap, used, room, asked))
    return reason, room


class EnterpriseBook(BookState):
    """The ledger state of one enterprise and the decisions that change it."""

    # ---- the one entry point -----------------------------------------------------------------

    def apply(self, evaluation: Evaluation) -> Outcome:
        """Apply one evaluated event, then the reviews that waited for it. Guard steps raise a
        LedgerRejection before any change; a review of an event not seen yet is parked."""
        event = evaluation.event
        payload = event.payload
        if isinstance(payload, ReviewDecided) and payload.event_ref not in self.events:
            self._guard_park_room(payload)
            self.park(evaluation)
            self.register(event)
            return Outcome(event.event_id, parked=True)
        out = self._apply(evaluation)
        # Taken: its name is registered (if it gives one) as the service's row is updated.
        self.register(event)
        self._release(event.event_id, out)
        return out

    def _guard_park_room(self, review: ReviewDecided) -> None:
        """A review may wait for its event only while the book has room for one more."""
        if sum(map(len, self.parked.values())) >= PARK_LIMIT:
            raise UnknownEventRef(
                f"no event {review.event_ref!r} for this enterprise, and {PARK_LIMIT}"
                " reviews already wait for theirs"
            )

    def _release(self, event_id: str, out: Outcome) -> None:
        """Apply the reviews that waited for `event_id`. A released review is an applied event
        too: reviews waiting for it follow, in turn. One refused is reported, not raised: the
        event that released it is applied whatever its reviews say."""
        waiting = list(self.parked.pop(event_id, ()))
        while waiting:
            review = waiting.pop(0)
            review_id = review.event.event_id
            try:
                released = self._apply(review)
            except LedgerRejection as err:
                out.released_rejections.append((review_id, str(err)))
                continue
            out.released.append(review_id)
            out.decisions.extend(released.decisions)
            out.postings.extend(released.postings)
            out.approvals.extend(released.approvals)
            out.approvals_settled.extend(released.approvals_settled)
            waiting.extend(self.parked.pop(review_id, ()))

    def _apply(self, evaluation: Evaluation) -> Outcome:
        """One known event, by kind: a review, a revocation, other support, a record for the
        payouts, or new facts."""
        event = evaluation.event
        out = Outcome(event.event_id)
        payload = event.payload
        if isinstance(payload, ReviewDecided):
            self._on_review(payload, event, out)
        elif isinstance(payload, CertificationRevoked):
            self.events[event.event_id] = ()
            items.revoke(self, payload.item_id, event.event_id, out)
        elif isinstance(payload, OtherSupportReceived):
            self.events[event.event_id] = ()
            items.other_support(self, payload, event.event_id, out)
        elif isinstance(payload, PayeeAccountRegistered | ObjectionFiled):
            self._record(payload, event, out)
        elif isinstance(payload, appeals.PAYLOADS):  # docs/rules.md step 10
            appeals.apply(self, payload, event, out)
        else:
            self._admit(evaluation, out)
        return out

    # ---- records the payouts read: no entitlement changes, no decision --------------------

    def _record(
        self, payload: PayeeAccountRegistered | ObjectionFiled, event: EnterpriseEvent, out: Outcome
    ) -> None:
        """A payee account (it replaces the previous one for payouts from now on, which stays
        recorded) or an objection to a known entitlement."""
        if isinstance(payload, ObjectionFiled):
            target = self._guard_objected(payload)
            out.objections.append(
                Objection(event.event_id, self.enterprise_id, target.ent.entitlement_id,
                          payload.reason, event.occurred_on)
            )  # fmt: skip
        else:
            self._guard_payee_name(payload, event)
            out.payee_accounts.append(
                PayeeAccount(event.event_id, self.enterprise_id, payload.bank_name,
                             payload.account_number, payload.account_name, event.occurred_on)
            )  # fmt: skip
        self.events[event.event_id] = ()

    def _guard_payee_name(self, payee: PayeeAccountRegistered, event: EnterpriseEvent) -> None:
        """A payee account is in the enterprise's registered name: the one its sources (feeds,
        bureaus' systems) gave, not the name the event carries, which an enterprise's portal
        session writes as it likes. A stolen credential could otherwise name an account of
        the thief's own, and the bank's 户名 check would match it."""
        registered = self.name_in_force(event)
        if not registered:
            raise PayeeNotRegisteredName(
                "企业名称尚未登记，暂不能登记收款账户 / the enterprise's registered name is not"
                " known yet: no payee account until a feed or a bureau's system names it"
            )
        if payee.account_name != registered:
            raise PayeeNotRegisteredName(
                f"户名 {payee.account_name!r} 不是登记的企业名称 {registered!r} / the account"
                " name is not the enterprise's registered name"
            )

    def _guard_objected(self, objection: ObjectionFiled) -> EntitlementState:
        """An objection is to an entitlement of this enterprise's book. It does not wait for
        its event as a review does: a public notice shows entitlements already decided."""
        if objection.event_ref not in self.events:
            raise UnknownObjectedEvent(f"no event {objection.event_ref!r} for this enterprise")
        target = self.entitlements.get(f"{objection.event_ref}/{objection.rule_id}")
        if target is None:
            raise UnknownObjectedRule(
                f"event {objection.event_ref!r} triggered no entitlement under"
                f" {objection.rule_id!r}"
            )
        return target

    # ---- new entitlements ------------------------------------------------------------------

    def _admit(self, evaluation: Evaluation, out: Outcome) -> None:
        """G1 and steps 2 to 4 for the entitlements one event triggers; each gets a decision."""
        event = evaluation.event
        states = [
            EntitlementState(
                ent=e,
                status=e.status,
                reasons=e.reasons,
                entitled_fen=e.entitled_fen,
                enterprise_name=event.enterprise_name,
                district=event.district.value,
            )
            for e in evaluation.entitlements
        ]
        self.events[event.event_id] = tuple(s.ent.entitlement_id for s in states)
        checks: dict[str, list[Check]] = {s.ent.entitlement_id: [] for s in states}
        candidates: list[tuple[EntitlementState, int]] = []
        for s in states:
            self.index(s)
            granted = self._screen(s, checks[s.ent.entitlement_id])
            if granted is not None:
                candidates.append((s, granted))
        cash: dict[str, int] = {}
        if candidates:
            cash = self._decide_together(candidates, event.event_id, checks, out)
        for s in states:
            eid = s.ent.entitlement_id
            self.emit(s, out, event.event_id, checks[eid], cash.get(eid, 0))

    def _screen(self, s: EntitlementState, checks: list[Check]) -> int | None:
        """G1, then for an entitlement that is ELIGIBLE the limits: the grant they allow."""
        if not self._window_ok(s, checks) or s.status is not Status.ELIGIBLE:
            return None
        return self._within_limits(s, checks)

    def _window_ok(self, s: EntitlementState, checks: list[Check]) -> bool:
        """G1: the fact counts only if its date lies in the policy's validity window."""
        e = s.ent
        ok = e.valid_from <= e.occurred_on <= e.valid_to
        checks.append(check.window(e, ok))
        if not ok:
            deny(s, Reason.OUTSIDE_WINDOW)
        return ok

    def _within_limits(self, s: EntitlementState, checks: list[Check]) -> int | None:
        """Steps 2 and 3: the year limit, then every cap. The grant the caps allow, or None
        (and the entitlement DENIED) when nothing is left."""
        if not self._year_limit_ok(s, checks):
            return None
        return self._cap_room(s, checks)

    def _year_limit_ok(self, s: EntitlementState, checks: list[Check]) -> bool:
        """Step 2: a rule limited to N years gives nothing in an (N+1)th year."""
        e = s.ent
        if e.max_years is None:
            return True
        other_years = self.years_with_support(e.rule_id) - {e.year}
        over = len(other_years) >= e.max_years
        checks.append(check.year_limit(e, other_years, over))
        if over:
            deny(s, Reason.YEAR_LIMIT)
        return not over

    def _cap_room(self, s: EntitlementState, checks: list[Check]) -> int | None:
        """Step 3: the grant is the least room left under the annual and item caps."""
        e = s.ent
        asked = s.entitled_fen
        headroom: list[tuple[Reason, int]] = []
        if e.annual_cap_fen is not None:
            used = self.annual_used[(e.rule_id, e.year)]
            headroom.append(
                _cap("annual_cap", Reason.ANNUAL_CAP, e.annual_cap_fen, used, asked, checks)
            )
        if e.item_cap_fen is not None:
            used = self.level(e.rule_id, e.item_id)
            headroom.append(_cap("item_cap", Reason.ITEM_CAP, e.item_cap_fen, used, asked, checks))
        granted = min([asked, *(room for _, room in headroom)])
        binding = [reason for reason, room in headroom if room == granted and room < asked]
        s.capped_fen = granted
        if binding:
            s.reasons = add_reasons(s.reasons, *binding)
            if granted == 0:
                s.status = Status.DENIED
                return None
        return granted

    def _decide_together(
        self,
        candidates: list[tuple[EntitlementState, int]],
        event_id: str,
        checks: dict[str, list[Check]],
        out: Outcome,
    ) -> dict[str, int]:
        """Candidates of one event: the best (a tie to the rule listed first) goes on to the
        stacking comparison, the others are DENIED DUPLICATE_LOWER, whatever their order."""

        def total(c: tuple[EntitlementState, int]) -> int:
            return self.level(c[0].ent.rule_id, c[0].ent.item_id) + c[1]

        if len(candidates) == 1:  # the usual case: nothing to compare, no totals to add up
            best = candidates[0]
        else:
            best = max(candidates, key=lambda c: (total(c), -c[0].ent.catalog_rank))
        for s, granted in candidates:
            if s is best[0]:
                continue
            deny(s, Reason.DUPLICATE_LOWER)
            s.capped_fen = 0
            checks[s.ent.entitlement_id].append(
                check.same_event(
                    s.ent.rule_id, total((s, granted)), best[0].ent.rule_id, total(best)
                )
            )
        winner = best[0].ent.entitlement_id
        return {winner: stack(self, best[0], best[1], event_id, checks[winner], out)}

    # ---- events that change existing entitlements ------------------------------------------

    def _on_review(self, review: ReviewDecided, event: EnterpriseEvent, out: Outcome) -> None:
        """A bureau's review of an entitlement PENDING_REVIEW (its event is known: unknown
        ones are parked). A large approval acts only as the second of two (four eyes); one of
        a review an appeal reopened, only if neither of the appeal's parties gave it."""
        event_id = event.event_id
        target = self._guard_review_rule(review)
        self._guard_pending_review(target)
        principal = event.submitted_by.principal if event.submitted_by else None
        appeals.guard_reopened_approval(self, target, review, principal, event_id)
        eid = target.ent.entitlement_id
        step = four_eyes.judge(target, review, event_id, principal, self.awaiting.get(eid))
        self.events[event_id] = ()
        if not review.approved:  # an appeal of the rejection goes to someone else
            appeals.note_review(self, eid, principal)
        if step is four_eyes.Step.FIRST:
            assert principal is not None
            self._first_approval(target, review, event_id, principal, out)
            return
        first = self.settle_approval(eid, event_id, out)
        self._review(
            target, review, event_id, out, check.review(review, event_id, principal, first)
        )

    def _first_approval(
        self, s: EntitlementState, review: ReviewDecided, event_id: str, who: str, out: Outcome
    ) -> None:
        """Four eyes: the first of two approvals is recorded, and a decision says that the
        entitlement, still PENDING_REVIEW, awaits a second reviewer."""
        assert review.approved_amount_fen is not None
        approval = Approval(s.ent.entitlement_id, event_id, who, review.approved_amount_fen)
        self.await_second(approval, out)
        limit = four_eyes.threshold(s, review) or 0
        self.emit(s, out, event_id, [check.first_approval(approval, limit)])

    def _guard_review_rule(self, review: ReviewDecided) -> EntitlementState:
        """The review names a rule its event triggered: the entitlement it decides."""
        target = self.entitlements.get(f"{review.event_ref}/{review.rule_id}")
        if target is None:
            raise UnknownReviewRule(
                f"event {review.event_ref!r} triggered no entitlement under {review.rule_id!r}"
            )
        return target

    @staticmethod
    def _guard_pending_review(target: EntitlementState) -> None:
        """An entitlement is reviewed once, while it waits for the review."""
        if target.status is not Status.PENDING_REVIEW:
            raise NotPendingReview(
                f"{target.ent.entitlement_id} is {target.status.value}, not PENDING_REVIEW"
            )

    def _review(
        self, s: EntitlementState, review: ReviewDecided, event_id: str, out: Outcome, seen: Check
    ) -> None:
        """A rejection denies; an approval sets the amount, then the limits and step 4.
        `seen`: the review check, with who reviewed."""
        checks = [seen]
        cash = 0
        if not review.approved:
            deny(s, Reason.REVIEW_REJECTED)
        else:
            assert review.approved_amount_fen is not None
            amount, clipped = clip_to_ceiling(review.approved_amount_fen, s.ent.ceiling_fen)
            s.entitled_fen = amount
            s.status = Status.ELIGIBLE
            if clipped:
                s.reasons = add_reasons(s.reasons, Reason.CEILING_CLIPPED)
            granted = self._within_limits(s, checks)
            if granted is not None:
                cash = stack(self, s, granted, event_id, checks, out)
        self.emit(s, out, event_id, checks, cash)
