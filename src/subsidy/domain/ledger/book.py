"""One enterprise's book: every limit of "How limits combine" (docs/rules.md) applied in order.

All limits are per enterprise (annual caps per enterprise-year, item caps and 就高不重复 per
enterprise-item, year limits per enterprise-rule), so the enterprise is the unit of consistency:
one book is decided alone, and the service locks one row per enterprise.
"""

from collections import defaultdict
from collections.abc import Iterable

from subsidy.domain.entitlements import Reason, Status, clip_to_ceiling
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import CertificationRevoked, OtherSupportReceived, ReviewDecided
from subsidy.domain.ledger.errors import (
    LedgerRejection,
    NotPendingReview,
    UnknownEventRef,
    UnknownReviewRule,
)
from subsidy.domain.ledger.records import (
    GRANTED,
    Check,
    Decision,
    EntitlementState,
    Outcome,
    Posting,
    PostingKind,
)

# Reviews that may wait for their event per enterprise: enough for any real backlog between two
# bureaus' feeds, small enough that a feed of stray reviews cannot grow a book without bound.
PARK_LIMIT = 100


def _add(reasons: tuple[Reason, ...], *extra: Reason) -> tuple[Reason, ...]:
    return reasons + tuple(r for r in extra if r not in reasons)


def _cap(
    name: str, reason: Reason, cap: int, used: int, asked: int, checks: list[Check]
) -> tuple[Reason, int]:
    """One cap of step 3: its room before this grant, and its check with the figures."""
    room = max(0, cap - used)
    checks.append(
        Check(
            name,
            "ok" if room >= asked else reason.value,
            (
                ("cap", cap),
                ("usedBefore", used),
                ("headroomBefore", room),
                ("headroomAfter", room - min(room, asked)),
            ),
        )
    )
    return reason, room


class EnterpriseBook:
    """The ledger state of one enterprise and the decisions that change it."""

    def __init__(self, enterprise_id: str) -> None:
        self.enterprise_id = enterprise_id
        self.entitlements: dict[str, EntitlementState] = {}
        self.events: dict[str, tuple[str, ...]] = {}  # eventId → its entitlement ids
        # itemId → its entitlements, oldest first: every limit but the annual cap reads an item.
        self.items: dict[str, list[EntitlementState]] = defaultdict(list)
        self.other_support: dict[str, int] = {}
        # Granted fen per (rule, year): the annual caps and the year limit read this.
        self.annual_used: dict[tuple[str, int], int] = defaultdict(int)
        # Reviews waiting for the event they refer to, by that event's id, in arrival order.
        self.parked: dict[str, list[Evaluation]] = {}

    # ---- restoring (the service loads a book from PostgreSQL) -------------------------------

    def restore(self, state: EntitlementState) -> None:
        """Add an entitlement's stored state, rebuilding the indexes and counters."""
        ent = state.ent
        self.entitlements[ent.entitlement_id] = state
        self.events[ent.event_id] = (*self.events.get(ent.event_id, ()), ent.entitlement_id)
        self.items[ent.item_id].append(state)
        self.annual_used[(ent.rule_id, ent.year)] += state.granted_fen

    def restore_event(self, event_id: str) -> None:
        """Remember an event that created no entitlement (a review can still not refer to it)."""
        self.events.setdefault(event_id, ())

    def park(self, review: Evaluation) -> None:
        """Set a review aside until the event it refers to is applied."""
        assert isinstance(review.event.payload, ReviewDecided)
        self.parked.setdefault(review.event.payload.event_ref, []).append(review)

    def parked_reviews(self) -> list[Evaluation]:
        """The reviews waiting, by the event they wait for, each list in arrival order."""
        return [r for waiting in self.parked.values() for r in waiting]

    # ---- queries ---------------------------------------------------------------------------

    def _on_item(self, item_id: str) -> Iterable[EntitlementState]:
        return self.items.get(item_id, ())

    def _level(self, rule_id: str, item_id: str, exclude: str = "") -> int:
        """A rule's level on an item: the capped amounts of its standing entitlements there.
        就高不重复 compares levels, and the item cap limits the level, not what was paid: a
        grant absorbed by other support still uses its rule's room on the item."""
        return sum(
            s.capped_fen
            for s in self._on_item(item_id)
            if s.ent.rule_id == rule_id and s.counts_for_item and s.ent.entitlement_id != exclude
        )

    def _item_granted(self, rule_id: str, item_id: str) -> int:
        return sum(
            s.granted_fen
            for s in self._on_item(item_id)
            if s.ent.rule_id == rule_id and s.status in GRANTED
        )

    def _years_with_support(self, rule_id: str) -> set[int]:
        return {y for (r, y), used in self.annual_used.items() if r == rule_id and used > 0}

    # ---- the one entry point -----------------------------------------------------------------

    def apply(self, evaluation: Evaluation) -> Outcome:
        """Apply one evaluated event, then the reviews that waited for it. Guard steps raise a
        LedgerRejection before any change; a review of an event not seen yet is parked."""
        event = evaluation.event
        payload = event.payload
        if isinstance(payload, ReviewDecided) and payload.event_ref not in self.events:
            if sum(map(len, self.parked.values())) >= PARK_LIMIT:
                raise UnknownEventRef(
                    f"no event {payload.event_ref!r} for this enterprise, and {PARK_LIMIT}"
                    " reviews already wait for theirs"
                )
            self.park(evaluation)
            return Outcome(event.event_id, parked=True)
        out = self._apply(evaluation)
        # A released review is an applied event too: reviews waiting for it follow, in turn.
        waiting = list(self.parked.pop(event.event_id, ()))
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
            waiting.extend(self.parked.pop(review_id, ()))
        return out

    def _apply(self, evaluation: Evaluation) -> Outcome:
        event = evaluation.event
        out = Outcome(event.event_id)
        payload = event.payload
        if isinstance(payload, ReviewDecided):
            target = self._review_target(payload)  # guard: raises before any write
            self.events[event.event_id] = ()
            self._review(target, payload, event.event_id, out)
        elif isinstance(payload, CertificationRevoked):
            self.events[event.event_id] = ()
            self._revoke(payload.item_id, event.event_id, out)
        elif isinstance(payload, OtherSupportReceived):
            self.events[event.event_id] = ()
            self._other_support(payload, event.event_id, out)
        else:
            self._admit(evaluation, out)
        return out

    # ---- new entitlements ------------------------------------------------------------------

    def _admit(self, evaluation: Evaluation, out: Outcome) -> None:
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
            self.entitlements[s.ent.entitlement_id] = s
            self.items[s.ent.item_id].append(s)
            if not self._window_ok(s, checks[s.ent.entitlement_id]):
                continue
            if s.status is Status.ELIGIBLE:
                granted = self._within_limits(s, checks[s.ent.entitlement_id])
                if granted is not None:
                    candidates.append((s, granted))
        cash: dict[str, int] = {}
        if candidates:
            cash = self._decide_together(candidates, event.event_id, checks, out)
        for s in states:
            eid = s.ent.entitlement_id
            self._emit(s, out, event.event_id, checks[eid], cash.get(eid, 0))

    def _window_ok(self, s: EntitlementState, checks: list[Check]) -> bool:
        """G1: the fact counts only if its date lies in the policy's validity window."""
        e = s.ent
        ok = e.valid_from <= e.occurred_on <= e.valid_to
        checks.append(
            Check(
                "window",
                "ok" if ok else "OUTSIDE_WINDOW",
                (
                    ("occurredOn", e.occurred_on),
                    ("validFrom", e.valid_from),
                    ("validTo", e.valid_to),
                ),
            )
        )
        if not ok:
            s.status = Status.DENIED
            s.reasons = _add(s.reasons, Reason.OUTSIDE_WINDOW)
        return ok

    def _within_limits(self, s: EntitlementState, checks: list[Check]) -> int | None:
        """Steps 2 and 3: the year limit, then every cap. The grant the caps allow, or None
        (and the entitlement DENIED) when nothing is left."""
        e = s.ent
        if e.max_years is not None:
            other_years = self._years_with_support(e.rule_id) - {e.year}
            over = len(other_years) >= e.max_years
            checks.append(
                Check(
                    "year_limit",
                    "YEAR_LIMIT" if over else "ok",
                    (
                        ("maxYears", str(e.max_years)),
                        ("otherYearsWithSupport", ",".join(map(str, sorted(other_years))) or None),
                        ("year", str(e.year)),
                    ),
                )
            )
            if over:
                s.status = Status.DENIED
                s.reasons = _add(s.reasons, Reason.YEAR_LIMIT)
                return None
        asked = s.entitled_fen
        headroom: list[tuple[Reason, int]] = []
        if e.annual_cap_fen is not None:
            used = self.annual_used[(e.rule_id, e.year)]
            headroom.append(
                _cap("annual_cap", Reason.ANNUAL_CAP, e.annual_cap_fen, used, asked, checks)
            )
        if e.item_cap_fen is not None:
            used = self._level(e.rule_id, e.item_id)
            headroom.append(_cap("item_cap", Reason.ITEM_CAP, e.item_cap_fen, used, asked, checks))
        granted = min([asked, *(room for _, room in headroom)])
        binding = [reason for reason, room in headroom if room == granted and room < asked]
        s.capped_fen = granted
        if binding:
            s.reasons = _add(s.reasons, *binding)
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
            return self._level(c[0].ent.rule_id, c[0].ent.item_id) + c[1]

        if len(candidates) == 1:  # the usual case: nothing to compare, no totals to add up
            best = candidates[0]
        else:
            best = max(candidates, key=lambda c: (total(c), -c[0].ent.catalog_rank))
        for s, granted in candidates:
            if s is best[0]:
                continue
            s.status = Status.DENIED
            s.reasons = _add(s.reasons, Reason.DUPLICATE_LOWER)
            s.capped_fen = 0
            checks[s.ent.entitlement_id].append(
                Check(
                    "same_event",
                    "DUPLICATE_LOWER",
                    (
                        ("thisRule", s.ent.rule_id),
                        ("thisAmount", total((s, granted))),
                        ("bestRule", best[0].ent.rule_id),
                        ("bestAmount", total(best)),
                    ),
                )
            )
        winner = best[0].ent.entitlement_id
        return {winner: self._stack(best[0], best[1], event_id, checks[winner], out)}

    def _stack(
        self, s: EntitlementState, granted: int, event_id: str, checks: list[Check], out: Outcome
    ) -> int:
        """Step 4, 就高不重复 on (enterprise, item): against other rules' totals there and
        against support from other city programmes. Returns the cash moved: the grant less
        what lower rules had already paid on the item (a top-up)."""
        e = s.ent
        own = self._level(e.rule_id, e.item_id, exclude=e.entitlement_id) + granted
        others: dict[str, int] = {}
        for o in self._on_item(e.item_id):
            if o.ent.rule_id != e.rule_id and o.counts_for_item:
                others[o.ent.rule_id] = others.get(o.ent.rule_id, 0) + o.capped_fen
        best_rule, best_other = max(others.items(), key=lambda kv: kv[1], default=("-", None))
        # With no other rule the bar is 0: a rule that gives the item nothing (a 1-fen invoice's
        # 0-fen voucher) is not "paid ¥0.00", it is denied like any amount that beats nothing.
        higher = own > (best_other or 0)
        checks.append(
            Check(
                "stacking",
                "ok" if higher else "DUPLICATE_LOWER",
                (
                    ("thisRuleTotal", own),
                    ("bestOtherRule", best_rule),
                    ("bestOtherTotal", best_other),
                ),
            )
        )
        if not higher:
            s.status = Status.DENIED
            s.reasons = _add(s.reasons, Reason.DUPLICATE_LOWER)
            s.capped_fen = 0
            return 0
        transferred = 0
        # Every standing entitlement of a lower rule gives way, money or not: one cut to
        # nothing by other support would otherwise keep its level and outbid later grants.
        for o in list(self._on_item(e.item_id)):
            if o.ent.rule_id != e.rule_id and o.counts_for_item:
                transferred += o.granted_fen
                self._post(o, PostingKind.SUPERSEDE, -o.granted_fen, event_id, out)
                o.status = Status.SUPERSEDED
                self._emit(
                    o,
                    out,
                    event_id,
                    [
                        Check(
                            "superseded",
                            "SUPERSEDED",
                            (
                                ("byEntitlement", e.entitlement_id),
                                ("byTotal", own),
                            ),
                        )
                    ],
                )
        support = self.other_support.get(e.item_id, 0)
        prior = self._item_granted(e.rule_id, e.item_id)
        pay = max(0, min(granted, own - support - prior))
        if support:
            checks.append(
                Check(
                    "other_support",
                    "ok" if pay == granted else "OTHER_SUPPORT",
                    (
                        ("otherSupport", support),
                        ("thisRuleTotal", own),
                        ("alreadyGranted", prior),
                        ("grant", pay),
                    ),
                )
            )
        # Nothing granted is DENIED, never "paid ¥0.00": also a 0-fen amount on an item its rule
        # already holds (the other support, if any, or the rule's own grants absorb it).
        if pay < granted or pay == 0:
            s.reasons = _add(s.reasons, Reason.OTHER_SUPPORT)
        if pay == 0:
            s.status = Status.DENIED
            return -transferred
        s.status = Status.PAID if pay == s.entitled_fen else Status.PARTIALLY_PAID
        self._post(s, PostingKind.GRANT, pay, event_id, out)
        if transferred:
            checks.append(
                Check(
                    "top_up",
                    "ok",
                    (
                        ("granted", pay),
                        ("alreadyPaidOnItem", transferred),
                        ("cashMoved", pay - transferred),
                    ),
                )
            )
        return pay - transferred

    # ---- events that change existing entitlements ------------------------------------------

    def _review_target(self, review: ReviewDecided) -> EntitlementState:
        """The entitlement a review decides (its event is known: unknown ones are parked)."""
        target = self.entitlements.get(f"{review.event_ref}/{review.rule_id}")
        if target is None:
            raise UnknownReviewRule(
                f"event {review.event_ref!r} triggered no entitlement under {review.rule_id!r}"
            )
        if target.status is not Status.PENDING_REVIEW:
            raise NotPendingReview(
                f"{target.ent.entitlement_id} is {target.status.value}, not PENDING_REVIEW"
            )
        return target

    def _review(
        self, s: EntitlementState, review: ReviewDecided, event_id: str, out: Outcome
    ) -> None:
        checks = [
            Check(
                "review",
                "approved" if review.approved else "REVIEW_REJECTED",
                (
                    ("reviewEvent", event_id),
                    ("approvedAmount", review.approved_amount_fen or 0),
                ),
            )
        ]
        cash = 0
        if not review.approved:
            s.status = Status.DENIED
            s.reasons = _add(s.reasons, Reason.REVIEW_REJECTED)
        else:
            assert review.approved_amount_fen is not None
            amount, clipped = clip_to_ceiling(review.approved_amount_fen, s.ent.ceiling_fen)
            s.entitled_fen = amount
            s.status = Status.ELIGIBLE
            if clipped:
                s.reasons = _add(s.reasons, Reason.CEILING_CLIPPED)
            granted = self._within_limits(s, checks)
            if granted is not None:
                cash = self._stack(s, granted, event_id, checks, out)
        self._emit(s, out, event_id, checks, cash)

    def _revoke(self, item_id: str, event_id: str, out: Outcome) -> None:
        """Step 6: every grant on the item reversed, cap room released, cash paid booked as a
        clawback receivable. Entitlements awaiting review on it are revoked too."""
        for s in list(self._on_item(item_id)):
            if not (s.counts_for_item or s.status is Status.PENDING_REVIEW):
                continue
            paid = s.granted_fen
            if paid:
                self._post(s, PostingKind.REVOKE, -paid, event_id, out)
                self._clawback(s, paid, event_id, out)
            s.status = Status.REVOKED
            self._emit(
                s,
                out,
                event_id,
                [
                    Check(
                        "revocation",
                        "REVOKED",
                        (
                            ("reversed", paid),
                            ("clawback", paid),
                        ),
                    )
                ],
            )

    def _other_support(self, p: OtherSupportReceived, event_id: str, out: Outcome) -> None:
        """Support from another programme counts against the item: the grants on it keep only
        what they give above that support; the excess already paid is clawed back."""
        support = self.other_support.get(p.item_id, 0) + p.amount_fen
        self.other_support[p.item_id] = support
        granted = [s for s in self._on_item(p.item_id) if s.status in GRANTED]
        by_rule: dict[str, list[EntitlementState]] = defaultdict(list)
        for s in granted:
            by_rule[s.ent.rule_id].append(s)
        for rule_id, states in by_rule.items():
            gross = self._level(rule_id, p.item_id)
            paid = sum(s.granted_fen for s in states)
            excess = paid - max(0, gross - support)
            for s in reversed(states):  # the entitlement created last gives way first
                if excess <= 0:
                    break
                cut = min(excess, s.granted_fen)
                excess -= cut
                self._post(s, PostingKind.OTHER_SUPPORT, -cut, event_id, out)
                self._clawback(s, cut, event_id, out)
                s.reasons = _add(s.reasons, Reason.OTHER_SUPPORT)
                s.status = Status.PARTIALLY_PAID if s.granted_fen else Status.DENIED
                self._emit(
                    s,
                    out,
                    event_id,
                    [
                        Check(
                            "other_support",
                            "OTHER_SUPPORT",
                            (
                                ("program", p.program),
                                ("otherSupport", support),
                                ("reduced", cut),
                                ("clawback", cut),
                            ),
                        )
                    ],
                )

    # ---- writing ---------------------------------------------------------------------------

    def _post(
        self, s: EntitlementState, kind: PostingKind, amount: int, event_id: str, out: Outcome
    ) -> None:
        """Book a change of the granted amount; counters follow the postings."""
        if amount == 0:
            return
        s.granted_fen += amount
        self.annual_used[(s.ent.rule_id, s.ent.year)] += amount
        out.postings.append(Posting(s.ent.entitlement_id, kind, amount, event_id))

    def _clawback(self, s: EntitlementState, amount: int, event_id: str, out: Outcome) -> None:
        s.clawback_fen += amount
        out.postings.append(Posting(s.ent.entitlement_id, PostingKind.CLAWBACK, amount, event_id))

    def _emit(
        self,
        s: EntitlementState,
        out: Outcome,
        event_id: str,
        checks: list[Check],
        cash: int = 0,
    ) -> None:
        s.revision += 1
        out.decisions.append(
            Decision(
                state_ent=s.ent,
                status=s.status,
                reasons=s.reasons,
                entitled_fen=s.entitled_fen,
                granted_fen=s.granted_fen,
                clawback_fen=s.clawback_fen,
                cash_delta_fen=cash,
                revision=s.revision,
                caused_by_event_id=event_id,
                enterprise_name=s.enterprise_name,
                district=s.district,
                checks=tuple(checks),
            )
        )
