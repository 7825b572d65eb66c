"""Hypothesis streams that crowd a few items with many events, to stress the ledger's limits."""

import functools
import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import strategies as st

from subsidy.domain.catalog import Catalog, apply_overlay, build_catalog, raw_catalog
from subsidy.domain.evaluator import Evaluation, evaluate
from subsidy.domain.events import parse_event
from tests.factories import enterprise_id

# HYPOTHESIS_EXAMPLES=20000 (and HYPOTHESIS_SEED unset) for a deep search; the default keeps
# make test fast and, derandomized, the same examples every run.
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "300"))
DERANDOMIZE = "HYPOTHESIS_EXAMPLES" not in os.environ
MAX_EVENTS = 60

# Few enterprises and items, so that events pile up on the same ones.
ENTERPRISES = [enterprise_id(1), enterprise_id(2)]
LABS = ["lab-a", "lab-b"]
INVOICES = ["inv-1", "inv-2"]
KINDS = [
    "MUNICIPAL_KEY_LAB",
    "MUNICIPAL_KEY_LAB",
    "PROVINCIAL_KEY_LAB",
    "PROVINCIAL_INNOVATION_CENTER",
    "PROVINCIAL_ENGINEERING_CENTER",
    "PROVINCIAL_MANUFACTURING_CENTER",
    "NATIONAL_PLATFORM",
    "NATIONAL_PLATFORM",
    "FIRST_UNIT_EQUIPMENT",
    "FIRST_UNIT_EQUIPMENT",
    "VERTICAL_LLM",
    "INNOVATION_CONSORTIUM",
    "HIGH_TECH_ENTERPRISE",
    "KEY_COMPONENT_PROJECT",
    "TYPICAL_SCENARIO",
]
REVIEW_RULES = ["m03.national_platform", "m06.exhibition", "m05.service_platform"]
REVIEWERS = ["reviewer-a", "reviewer-b", "reviewer-a", "reviewer-b", None]
# Mostly the window's years (annual caps bite within a year), its edges, and now and then any
# day, years only a longer window reaches included.
_IN_WINDOW = st.sampled_from(
    [
        date(2025, 6, 1),
        date(2025, 7, 1),
        date(2025, 7, 1),
        date(2026, 3, 1),
        date(2026, 3, 1),
        date(2027, 7, 1),
        date(2027, 12, 31),
    ]
)


@st.composite
def _dates(draw: st.DrawFn) -> date:
    roll = draw(st.integers(0, 9))
    if roll < 8:
        return draw(_IN_WINDOW)
    if roll == 8:
        return draw(st.sampled_from([date(2025, 5, 31), date(2028, 1, 1)]))
    return draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31)))


DATES = _dates()
# Amounts around the ceilings (1,000,000 yuan = 100,000,000 fen), and anything.
NEAR_CEILINGS = [
    1,
    30_000_000,
    50_000_000,
    50_000_001,
    99_999_999,
    100_000_000,
    100_000_001,
    120_000_000,
    150_000_000,
    300_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    2_000_000_001,
    20_000_000_000,
]
AMOUNTS = st.one_of(st.sampled_from(NEAR_CEILINGS), st.integers(1, 30_000_000_000))
# 1 to 4 fen give a 0-fen rate entitlement.
INVOICE_AMOUNTS = st.one_of(
    st.sampled_from([1, 4, 5, 100_000_000, 600_000_000, 1_000_000_000, 2_000_000_000]),
    st.integers(1, 3_000_000_000),
)

# Policy overlays, combined at random: tighter caps, a longer window, year limits, amounts for
# referred rules.
OVERLAYS: dict[str, dict[str, Any]] = {
    "longer window": {"valid_from": "2024-01-01", "valid_to": "2029-12-31"},
    "national platform item cap 3,000,000": {
        "rules": {"m03.national_platform": {"item_cap_yuan": 3_000_000}}
    },
    "first unit item cap 1,500,000": {"rules": {"m09.first_unit": {"item_cap_yuan": 1_500_000}}},
    "key lab item cap below its ceiling": {
        "rules": {"m03.provincial_key_lab": {"item_cap_yuan": 15_000_000}}
    },
    "municipal lab annual cap 1,500,000": {
        "rules": {"m03.municipal_key_lab": {"annual_cap_yuan": 1_500_000}}
    },
    "large model in one year only": {"rules": {"m08.large_model_compute": {"max_years": 1}}},
    "voucher in two years, 500,000 a year": {
        "rules": {"m08.compute_voucher": {"max_years": 2, "annual_cap_yuan": 500_000}}
    },
    "enterprise titles pay 3,000,000": {
        "rules": {"m06.enterprise_title": {"ceiling_yuan": 3_000_000}}
    },
    "key component R&D pays 5,000,000, 6,000,000 a year": {
        "rules": {"m04.key_component_rd": {"ceiling_yuan": 5_000_000, "annual_cap_yuan": 6_000_000}}
    },
    "exhibition item cap 2,500,000": {"rules": {"m06.exhibition": {"item_cap_yuan": 2_500_000}}},
}


@functools.cache
def _raw_catalog() -> dict[str, Any]:
    raw: dict[str, Any] = raw_catalog()
    return raw


@functools.cache
def catalog_for(overlays: tuple[str, ...]) -> Catalog:
    """The catalog with the named overlays applied, in order."""
    raw = _raw_catalog()
    for name in overlays:
        raw = apply_overlay(raw, OVERLAYS[name])
    return build_catalog(raw)


@dataclass(frozen=True)
class Stream:
    """Events in arrival order, with the overlays of the catalog they are evaluated against."""

    overlays: tuple[str, ...]
    events: tuple[dict[str, Any], ...]

    @property
    def catalog(self) -> Catalog:
        return catalog_for(self.overlays)

    def evaluations(self) -> list[tuple[Evaluation, str]]:
        """Each event evaluated, with its content hash: what both ledgers are fed."""
        out = []
        for raw in self.events:
            event = parse_event(raw)
            out.append((evaluate(event, self.catalog, explain=False), event.content_hash()))
        return out

    def show(self, upto: int | None = None) -> str:
        """The overlays and the events (JSON lines) so far, to paste into a casebook entry."""
        lines = [f"overlays: {list(self.overlays)}"]
        lines += [json.dumps(e, ensure_ascii=False) for e in self.events[:upto]]
        return "\n".join(lines)


# A step is drawn before the stream is assembled: a review names its target by an index into
# the whole stream (so it may come before its event), a resend by an index into what came before.
_Step = tuple[Any, ...]


def _cert(draw: st.DrawFn) -> _Step:
    kind = draw(st.sampled_from(KINDS))
    payload: dict[str, Any] = {
        "kind": kind,
        "itemId": draw(st.sampled_from([*LABS, LABS[0]])),
        "certificateId": "C",
    }
    if kind == "NATIONAL_PLATFORM":
        payload["stage"] = draw(st.integers(1, 3))
    if draw(st.integers(0, 2)) == 0:
        payload["approvedAmountFen"] = draw(AMOUNTS)
    if kind == "FIRST_UNIT_EQUIPMENT" and draw(st.booleans()):
        payload["humanoid"] = draw(st.booleans())
    return ("certificationObtained", payload)


def _invoice(draw: st.DrawFn) -> _Step:
    # Now and then an invoice on a lab's item: the rules do not care what the item is.
    item = draw(st.sampled_from([*INVOICES, *INVOICES, *INVOICES, LABS[0]]))
    payload: dict[str, Any] = {"itemId": item, "amountFen": draw(INVOICE_AMOUNTS)}
    params = draw(st.sampled_from([None, 5, 10, 10.5, 70, 70]))
    if params is not None:
        payload["modelParamsBillions"] = params
        payload["applicationScenarios"] = draw(st.sampled_from([4, 5, 6]))
    return ("computeInvoiceFiled", payload)


def _reviewable(draw: st.DrawFn) -> _Step:
    """An exhibition or service report, with or without an approved amount."""
    item = draw(st.sampled_from([*LABS, "expo-1"]))
    payload: dict[str, Any] = {"itemId": item}
    name = draw(st.sampled_from(["exhibitionHeld", "serviceReportFiled"]))
    if name == "serviceReportFiled":
        payload["serviceYear"] = 2025
    if draw(st.integers(0, 3)) == 0:
        payload["approvedAmountFen"] = draw(AMOUNTS)
    return (name, payload)


def _review(draw: st.DrawFn) -> _Step:
    # target: an index into the stream's reviewable events, any event, or an unknown id.
    aim = draw(st.sampled_from(["pending", "pending", "pending", "any", "ghost"]))
    return (
        "review",
        aim,
        draw(st.integers(0, 10_000)),
        # The right rule for the target, mostly; now and then any rule that takes reviews.
        draw(st.one_of(st.just(None), st.just(None), st.sampled_from(REVIEW_RULES))),
        draw(st.booleans()),
        draw(AMOUNTS),
        # The target's enterprise, mostly.
        draw(st.sampled_from([None, None, None, None, *ENTERPRISES])),
        # Its reviewer (four eyes): mostly one of two, now and then none.
        draw(st.sampled_from(REVIEWERS)),
        # Now and then the last review again (same target, rule and amount) by this reviewer:
        # the second approval four eyes waits for, or the same reviewer's second try.
        draw(st.integers(0, 2)) == 0,
    )


@st.composite
def _step(draw: st.DrawFn) -> _Step:
    choice = draw(
        st.sampled_from(
            ["cert"] * 6
            + ["invoice"] * 3
            + ["reviewable"] * 2
            + ["review"] * 4
            + ["revoke", "other", "other", "resend", "objection", "payee"]
        )
    )
    if choice == "cert":
        return _cert(draw)
    if choice == "invoice":
        return _invoice(draw)
    if choice == "reviewable":
        return _reviewable(draw)
    if choice == "review":
        return _review(draw)
    if choice == "objection":
        # Mostly an entitlement awaiting (or given) a review; now and then any event, or none.
        aim = draw(st.sampled_from(["pending", "pending", "any", "ghost"]))
        return ("objection", aim, draw(st.integers(0, 10_000)))
    if choice == "payee":
        number = draw(st.sampled_from(["12345678", "6222021001123456789"]))
        payee = {"bankName": "苏州银行", "accountNumber": number, "accountName": "测试"}
        return ("payeeAccountRegistered", payee)
    item = draw(st.sampled_from([*LABS, *INVOICES, "expo-1"]))
    if choice == "revoke":
        return ("certificationRevoked", {"itemId": item, "reason": "撤销"})
    if choice == "other":
        return (
            "otherSupportReceived",
            {"itemId": item, "program": "p", "amountFen": draw(AMOUNTS)},
        )
    return ("resend", draw(st.integers(0, 10_000)), draw(st.integers(0, 3)) == 0)


def _awaits_review(payload_type: str, payload: dict[str, Any]) -> str | None:
    """The rule an event leaves waiting for a review, if any."""
    if "approvedAmountFen" in payload:
        return None
    if payload_type == "exhibitionHeld":
        return "m06.exhibition"
    if payload_type == "serviceReportFiled":
        return "m05.service_platform"
    if payload_type == "certificationObtained" and payload["kind"] == "NATIONAL_PLATFORM":
        return "m03.national_platform"
    return None


@st.composite
def _entry(draw: st.DrawFn) -> tuple[tuple[str, date], _Step]:
    """One event's enterprise, date and step."""
    enterprise = draw(st.sampled_from([*ENTERPRISES, ENTERPRISES[0], ENTERPRISES[0]]))
    return (enterprise, draw(DATES)), draw(_step())


@st.composite
def _next_entry(draw: st.DrawFn) -> tuple[tuple[str, date], _Step] | None:
    """Another event, or none: one block of draws, which the shrinker deletes whole."""
    if draw(st.integers(0, 255)) <= 3:
        return None
    return draw(_entry())


def _objection(step: _Step, targets: list[tuple[int, str]], steps: int, n: int) -> dict[str, str]:
    """An objection to a reviewable event's entitlement, or to any event under a review rule
    (often none), or to an event that never comes; by whichever enterprise `n` is."""
    _, aim, pick = step
    if aim == "pending" and targets:
        target, rule = targets[pick % len(targets)]
    elif aim == "ghost":
        target, rule = -1, REVIEW_RULES[pick % len(REVIEW_RULES)]
    else:
        target, rule = pick % steps, REVIEW_RULES[pick % len(REVIEW_RULES)]
    ref = f"e{target}" if 0 <= target != n else f"ghost-{pick % 3}"
    return {"eventRef": ref, "ruleId": rule, "reason": "异议"}


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    overlays = tuple(draw(st.lists(st.sampled_from(sorted(OVERLAYS)), max_size=3, unique=True)))
    # Long streams (st.lists averages a handful of elements): one more event, mostly.
    entries = [draw(_entry())]
    while len(entries) < MAX_EVENTS and (entry := draw(_next_entry())) is not None:
        entries.append(entry)
    steps = [step for _, step in entries]
    heads = [
        {
            "eventId": f"e{n}",
            "source": "prop",
            "enterpriseId": enterprise,
            "enterpriseName": "测试",
            "district": "WUZHONG",
            "occurredOn": occurred_on.isoformat(),
        }
        for n, ((enterprise, occurred_on), _) in enumerate(entries)
    ]
    targets = [
        (n, rule)
        for n, step in enumerate(steps)
        if step[0] not in ("review", "resend", "objection")
        and (rule := _awaits_review(step[0], step[1])) is not None
    ]
    events: list[dict[str, Any]] = []
    last_review: dict[str, Any] | None = None
    for n, step in enumerate(steps):
        head = heads[n]
        if step[0] == "resend":
            if not events:
                continue
            again = dict(events[step[1] % len(events)])
            if step[2]:
                again["source"] = "prop-changed"
            events.append(again)
            continue
        if step[0] == "objection":
            events.append({**head, "objectionFiled": _objection(step, targets, len(steps), n)})
            continue
        if step[0] == "review":
            _, aim, pick, rule, approved, amount, enterprise, reviewer, again = step
            reviewed = {"submittedBy": {"principal": reviewer}} if reviewer else {}
            if again and last_review is not None:
                events.append({**last_review, "eventId": head["eventId"], **reviewed})
                continue
            if aim == "pending" and targets:
                target, right_rule = targets[pick % len(targets)]
            elif aim == "ghost" or len(steps) < 2:
                target, right_rule = -1, REVIEW_RULES[pick % len(REVIEW_RULES)]
            else:
                target, right_rule = pick % len(steps), REVIEW_RULES[pick % len(REVIEW_RULES)]
            if target == n:
                target = -1
            ref = f"e{target}" if target >= 0 else f"ghost-{pick % 3}"
            review: dict[str, Any] = {
                "eventRef": ref,
                "ruleId": rule or right_rule,
                "approved": approved,
            }
            if approved:
                review["approvedAmountFen"] = amount
            owner = heads[target]["enterpriseId"] if target >= 0 else head["enterpriseId"]
            last_review = {**head, "enterpriseId": enterprise or owner, "reviewDecided": review}
            events.append({**last_review, **reviewed})
            continue
        events.append({**head, step[0]: step[1]})
    return Stream(overlays, tuple(events))
