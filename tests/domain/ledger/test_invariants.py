"""The ledger's invariants, checked after every event of streams crowded onto a few items."""

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings

from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import GRANT_ACCOUNT, GRANTED, EntitlementState, PostingKind
from tests.reference.streams import DERANDOMIZE, EXAMPLES, Stream, streams

Item = tuple[str, str]


def _stands(s: EntitlementState) -> bool:
    """Counts in its rule's level on the item (the rules text's "stands")."""
    return s.status in GRANTED or (s.status is Status.DENIED and Reason.OTHER_SUPPORT in s.reasons)


def violations(
    states: list[EntitlementState],
    other_support: dict[Item, int],
    posted: dict[str, int],
    clawed: dict[str, int],
) -> list[str]:
    """Every invariant of the rules text that the states break, in words."""
    found: list[str] = []
    level: dict[tuple[str, str, str], int] = defaultdict(int)
    paid: dict[tuple[str, str, str], int] = defaultdict(int)
    item_caps: dict[tuple[str, str, str], list[int | None]] = defaultdict(list)
    annual: dict[tuple[str, str, int], int] = defaultdict(int)
    years: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in states:
        e = s.ent
        key = (e.enterprise_id, e.item_id, e.rule_id)
        # (c) Only PAID and PARTIALLY_PAID hold money; nothing is negative.
        if s.granted_fen and s.status not in GRANTED:
            found.append(f"{e.entitlement_id} is {s.status} with {s.granted_fen} granted")
        if s.granted_fen < 0 or s.clawback_fen < 0:
            found.append(f"{e.entitlement_id}: granted {s.granted_fen}, clawback {s.clawback_fen}")
        if _stands(s):
            if not s.granted_fen <= s.capped_fen <= s.entitled_fen:
                found.append(
                    f"{e.entitlement_id}: granted {s.granted_fen} ≤ capped {s.capped_fen} ≤ "
                    f"entitled {s.entitled_fen} broken"
                )
            level[key] += s.capped_fen
            item_caps[key].append(e.item_cap_fen)
        paid[key] += s.granted_fen
        annual[(e.enterprise_id, e.rule_id, e.year)] += s.granted_fen
        if s.granted_fen > 0:
            years[(e.enterprise_id, e.rule_id)].add(e.year)
        # (d) The journal adds up to the state.
        if posted.get(e.entitlement_id, 0) != s.granted_fen:
            found.append(
                f"{e.entitlement_id}: postings {posted.get(e.entitlement_id, 0)} ≠ granted "
                f"{s.granted_fen}"
            )
        if clawed.get(e.entitlement_id, 0) != s.clawback_fen:
            found.append(
                f"{e.entitlement_id}: clawback postings {clawed.get(e.entitlement_id, 0)} ≠ "
                f"clawback {s.clawback_fen}"
            )
    rules = {s.ent.rule_id: s.ent for s in states}
    # (b) Item caps: a humanoid unit raises the cap, so the highest standing cap binds.
    for key, caps in item_caps.items():
        if None in caps:
            continue
        cap = max(c for c in caps if c is not None)
        if level[key] > cap or paid[key] > cap:
            found.append(f"{key}: level {level[key]}, paid {paid[key]}, item cap {cap}")
    for (enterprise, rule_id, year), total in annual.items():
        annual_cap = rules[rule_id].annual_cap_fen
        if annual_cap is not None and total > annual_cap:
            found.append(
                f"{enterprise} {rule_id} {year}: granted {total} > annual cap {annual_cap}"
            )
    for (enterprise, rule_id), with_money in years.items():
        limit = rules[rule_id].max_years
        if limit is not None and len(with_money) > limit:
            found.append(f"{enterprise} {rule_id}: money in {sorted(with_money)}, limit {limit}")
    # (a) and (b) per item: one rule holds money, and never more than its best level allows.
    items: set[Item] = {(e, i) for e, i, _ in paid} | set(other_support)
    for enterprise, item in sorted(items):
        holders = {r: v for (e, i, r), v in paid.items() if (e, i) == (enterprise, item) and v}
        if len(holders) > 1:
            found.append(f"{enterprise} {item}: several rules hold money: {holders}")
        best = max((v for (e, i, _), v in level.items() if (e, i) == (enterprise, item)), default=0)
        other = other_support.get((enterprise, item), 0)
        if sum(holders.values()) + other > max(other, best):
            found.append(
                f"{enterprise} {item}: paid {sum(holders.values())} + other support {other} > "
                f"max(other support, highest level {best})"
            )
    return found


def snapshot(ledger: InMemoryLedger) -> tuple[Any, ...]:
    """Everything observable of the ledger's state, in a comparable form."""
    return (
        tuple(
            (
                s.ent.entitlement_id,
                s.status,
                s.reasons,
                s.entitled_fen,
                s.capped_fen,
                s.granted_fen,
                s.clawback_fen,
            )
            for s in sorted(ledger.states(), key=lambda s: s.ent.entitlement_id)
        ),
        tuple(sorted(ledger.parked_ids())),
    )


def run(stream: Stream, ledger: InMemoryLedger, check: bool) -> None:
    """Feed the stream; with `check`, test every invariant after every event."""
    other_support: dict[Item, int] = defaultdict(int)
    posted: dict[str, int] = defaultdict(int)
    clawed: dict[str, int] = defaultdict(int)
    for n, (evaluation, content_hash) in enumerate(stream.evaluations()):
        before = snapshot(ledger) if check else None
        try:
            outcome = ledger.process(evaluation, content_hash)
        except LedgerRejection:
            outcome = None
        if outcome is None:
            # A refused event changes nothing.
            assert not check or snapshot(ledger) == before, f"event {n}\n{stream.show(n + 1)}"
            continue
        support = evaluation.event.other_support_received
        if support is not None and not outcome.duplicate:
            other_support[(evaluation.event.enterprise_id, support.item_id)] += support.amount_fen
        for p in outcome.postings:
            if p.kind in GRANT_ACCOUNT:
                posted[p.entitlement_id] += p.amount_fen
            elif p.kind is PostingKind.CLAWBACK:
                clawed[p.entitlement_id] += p.amount_fen
        if check:
            problems = violations(ledger.states(), other_support, posted, clawed)
            assert not problems, (
                f"after event {n}:\n  " + "\n  ".join(problems) + f"\n{stream.show(n + 1)}"
            )


@settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams())
def test_invariants_hold_after_every_event(stream: Stream) -> None:
    ledger = InMemoryLedger()
    run(stream, ledger, check=True)
    # (e) The same events in the same order give the same result.
    again = InMemoryLedger()
    run(stream, again, check=False)
    assert snapshot(again) == snapshot(ledger)
