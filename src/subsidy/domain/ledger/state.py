"""One enterprise's ledger state: entitlements, their indexes and counters, and the writes."""

from collections import defaultdict
from collections.abc import Iterable

from subsidy.domain.entitlements import Entitlement, Reason, Status
from subsidy.domain.evaluator import Evaluation
from subsidy.domain.events import EnterpriseEvent, ReviewDecided
from subsidy.domain.ledger.records import (
    GRANTED,
    Appeal,
    Approval,
    Check,
    Decision,
    EntitlementState,
    Outcome,
    Posting,
    PostingKind,
    Reopened,
)
from subsidy.domain.submitter import registers_names


def add_reasons(reasons: tuple[Reason, ...], *extra: Reason) -> tuple[Reason, ...]:
    """`reasons` with each of `extra` it lacks, in order: a reason is given once."""
    return reasons + tuple(r for r in extra if r not in reasons)


def deny(s: EntitlementState, reason: Reason) -> None:
    """Mark an entitlement DENIED for `reason` (nothing is posted: it held nothing)."""
    s.status = Status.DENIED
    s.reasons = add_reasons(s.reasons, reason)


def _highest(caps: list[int | None]) -> int | None:
    """The highest of some caps; None (no cap) if one of them is None or there are none."""
    if not caps or None in caps:
        return None
    return max(c for c in caps if c is not None)


class BookState:
    """What a book holds, the queries the limits read, and the only writes: postings move
    the counters with the granted amounts, decisions bump the revision."""

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
        # First approvals awaiting a second reviewer (four eyes), by entitlement id.
        self.awaiting: dict[str, Approval] = {}
        # Appeals no decision closed yet, by the appeal's event id (docs/rules.md step 10), and
        # who rejected each entitlement a review rejected (None: a review naming nobody).
        self.open_appeals: dict[str, Appeal] = {}
        self.rejected_by: dict[str, str | None] = {}
        # Entitlements an upheld appeal reopened, by id, and who may not approve them.
        self.reopened: dict[str, Reopened] = {}
        # The enterprise's registered name: the one its sources' events last gave ("" while
        # none has), as the service's enterprises row keeps it. Payee accounts must bear it.
        self.registered_name = ""

    # ---- restoring (the service loads a book from PostgreSQL) -------------------------------

    def restore(self, state: EntitlementState) -> None:
        """Add an entitlement's stored state, rebuilding the indexes and counters."""
        ent = state.ent
        self.index(state)
        # A retracted event is unknown to reviews and objections: not registered under it.
        if state.status is not Status.RETRACTED:
            self.events[ent.event_id] = (*self.events.get(ent.event_id, ()), ent.entitlement_id)
        self.annual_used[(ent.rule_id, ent.year)] += state.granted_fen

    def restore_event(self, event_id: str) -> None:
        """Remember an event that created no entitlement (a review can still not refer to it)."""
        self.events.setdefault(event_id, ())

    def name_in_force(self, event: EnterpriseEvent) -> str:
        """The registered name once `event` is taken: its own name if it is one of the
        enterprise's sources' events, else the one registered before ("" if none)."""
        if registers_names(event.submitted_by):
            return event.enterprise_name
        return self.registered_name

    def register(self, event: EnterpriseEvent) -> None:
        """An event taken (applied or parked): the registered name follows it if it gives one."""
        self.registered_name = self.name_in_force(event)

    def park(self, review: Evaluation) -> None:
        """Set a review aside until the event it refers to is applied."""
        assert isinstance(review.event.payload, ReviewDecided)
        self.parked.setdefault(review.event.payload.event_ref, []).append(review)

    def parked_reviews(self) -> list[Evaluation]:
        """The reviews waiting, by the event they wait for, each list in arrival order."""
        return [r for waiting in self.parked.values() for r in waiting]

    def await_second(self, approval: Approval, out: Outcome) -> None:
        """Hold a first approval until a second reviewer gives the same one."""
        self.awaiting[approval.entitlement_id] = approval
        out.approvals.append(approval)

    def settle_approval(self, entitlement_id: str, event_id: str, out: Outcome) -> Approval | None:
        """End the wait of an entitlement's first approval, if one waits, for `event_id`: the
        first approval."""
        first = self.awaiting.pop(entitlement_id, None)
        if first is not None:
            out.approvals_settled.append((entitlement_id, event_id))
        return first

    # ---- queries ---------------------------------------------------------------------------

    def on_item(self, item_id: str) -> Iterable[EntitlementState]:
        """The entitlements on an item, oldest first."""
        return self.items.get(item_id, ())

    def level(self, rule_id: str, item_id: str, exclude: str = "") -> int:
        """A rule's level on an item: the capped amounts of its standing entitlements there.
        就高不重复 compares levels, and the item cap limits the level, not what was paid: a
        grant absorbed by other support still uses its rule's room on the item."""
        return sum(
            s.capped_fen
            for s in self.on_item(item_id)
            if s.ent.rule_id == rule_id and s.counts_for_item and s.ent.entitlement_id != exclude
        )

    def item_granted(self, rule_id: str, item_id: str) -> int:
        """What a rule's grants on an item hold now."""
        return sum(
            s.granted_fen
            for s in self.on_item(item_id)
            if s.ent.rule_id == rule_id and s.status in GRANTED
        )

    def widest_caps(self, rule_id: str, year: int, item_id: str) -> tuple[int | None, int | None]:
        """The highest annual cap of a rule in a year and item cap on an item (None: uncapped)."""
        # A corrected history decides each entitlement again in its place, under its own policy
        # version's caps: the totals it leaves stay under the highest of them, not always under
        # the cap of the entitlement a correction raised (an earlier version's, lower).
        annual = [s.ent.annual_cap_fen for s in self.entitlements.values()
                  if s.ent.rule_id == rule_id and s.ent.year == year]  # fmt: skip
        item = [s.ent.item_cap_fen for s in self.on_item(item_id) if s.ent.rule_id == rule_id]
        return _highest(annual), _highest(item)

    def years_with_support(self, rule_id: str) -> set[int]:
        """The years in which a rule holds any grant."""
        return {y for (r, y), used in self.annual_used.items() if r == rule_id and used > 0}

    def best_other_rule(self, e: Entitlement) -> tuple[str, int | None]:
        """The other rule with the highest level on e's item, or ("-", None) if there is none."""
        others: dict[str, int] = {}
        for o in self.on_item(e.item_id):
            if o.ent.rule_id != e.rule_id and o.counts_for_item:
                others[o.ent.rule_id] = others.get(o.ent.rule_id, 0) + o.capped_fen
        return max(others.items(), key=lambda kv: kv[1], default=("-", None))

    # ---- writing ---------------------------------------------------------------------------

    def index(self, s: EntitlementState) -> None:
        """Hold an entitlement, findable by id and on its item."""
        self.entitlements[s.ent.entitlement_id] = s
        self.items[s.ent.item_id].append(s)

    def post(
        self, s: EntitlementState, kind: PostingKind, amount: int, event_id: str, out: Outcome
    ) -> None:
        """Book a change of the granted amount; counters follow the postings."""
        if amount == 0:
            return
        s.granted_fen += amount
        self.annual_used[(s.ent.rule_id, s.ent.year)] += amount
        out.postings.append(Posting(s.ent.entitlement_id, kind, amount, event_id))

    def clawback(self, s: EntitlementState, amount: int, event_id: str, out: Outcome) -> None:
        """Book cash paid that the enterprise now owes back."""
        s.clawback_fen += amount
        out.postings.append(Posting(s.ent.entitlement_id, PostingKind.CLAWBACK, amount, event_id))

    def emit(
        self,
        s: EntitlementState,
        out: Outcome,
        event_id: str,
        checks: list[Check],
        cash: int = 0,
    ) -> None:
        """Publish the entitlement's state as its next revision, with the checks behind it."""
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
