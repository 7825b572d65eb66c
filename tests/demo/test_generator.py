"""The demo generator: seeded, realistic, covering every rule, about 1% malformed."""

import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from subsidy.demo.generator import generate
from subsidy.domain.catalog import Award, load_catalog
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.simulate import simulate

SAMPLE = Path(__file__).resolve().parents[2] / "data/sample-events.jsonl"


def test_checked_in_sample_is_the_generators_output() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    assert lines == list(generate(400, 7))
    assert 2_000 <= len(lines) <= 6_000


def test_same_seed_same_events_other_seed_other_events() -> None:
    assert list(generate(50, 1)) == list(generate(50, 1))
    assert list(generate(50, 1)) != list(generate(50, 2))


def test_sample_covers_every_rule_district_status_and_window_edge() -> None:
    catalog = load_catalog()
    result = simulate(SAMPLE.read_text("utf-8").splitlines(), catalog).to_contract()
    rules = Counter(e["ruleId"] for e in result["entitlements"])
    assert set(rules) == {r.id for r in catalog.rules}
    statuses = {e["status"] for e in result["entitlements"]}
    assert statuses == {
        "PAID",
        "PARTIALLY_PAID",
        "DENIED",
        "PENDING_REVIEW",
        "REFERRED",
        "RECORDED",
        "SUPERSEDED",
        "REVOKED",
        "RETRACTED",
    }
    reasons = {r for e in result["entitlements"] for r in e["reasons"]}
    assert {
        "OUTSIDE_WINDOW",
        "ANNUAL_CAP",
        "DUPLICATE_LOWER",
        "OTHER_SUPPORT",
        "REVIEW_REJECTED",
        "CEILING_CLIPPED",
    } <= reasons
    years = {e["year"] for e in result["entitlements"]}
    assert years == {2025, 2026, 2027, 2028}


def test_about_one_percent_is_malformed() -> None:
    lines = list(generate(1_000, 3))
    bad = 0
    districts = set()
    for line in lines:
        try:
            districts.add(parse_event_json(line).district)
        except InvalidEvent:
            bad += 1
    assert 0.005 <= bad / len(lines) <= 0.02
    assert len(districts) == 10
    assert all(json.loads(lines[0]))


def _events(lines: list[str]) -> list[dict[str, Any]]:
    """The lines that are valid events, as dicts."""
    found = []
    for line in lines:
        try:
            parse_event_json(line)
        except InvalidEvent:
            continue
        found.append(json.loads(line))
    return found


def test_the_portal_registers_accounts_and_objects_to_a_few_reviewed_awards() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    events = _events(lines)
    catalog = load_catalog()
    facts: dict[str, list[str]] = defaultdict(list)
    payees: dict[str, list[dict[str, Any]]] = defaultdict(list)
    approved: dict[str, str] = {}  # entitlement → the day of its last approving review
    for e in events:
        if "payeeAccountRegistered" in e:
            payees[e["enterpriseId"]].append(e)
            assert e["payeeAccountRegistered"]["accountName"] == e["enterpriseName"]
            assert len(e["payeeAccountRegistered"]["accountNumber"]) == 19
        elif "objectionFiled" not in e:
            facts[e["enterpriseId"]].append(e["occurredOn"])
        review = e.get("reviewDecided")
        if review and review["approved"]:
            approved[f"{review['eventRef']}/{review['ruleId']}"] = e["occurredOn"]
    assert {e["source"] for es in payees.values() for e in es} == {"sz-gov-service-portal"}
    assert 0.88 <= len(payees) / len(facts) <= 0.96
    for enterprise, registered in payees.items():
        assert registered[0]["occurredOn"] <= min(facts[enterprise])
    changed = [es for es in payees.values() if len({e["eventId"] for e in es}) > 1]
    assert 0.01 <= len(changed) / len(payees) <= 0.05
    assert all(es[0]["occurredOn"] < es[-1]["occurredOn"] for es in changed)
    objections = [e for e in events if "objectionFiled" in e]
    assert 3 <= len(objections) <= 8
    review_rules = {r.id for r in catalog.rules if r.award is Award.REVIEW}
    for e in objections:
        o = e["objectionFiled"]
        assert o["ruleId"] in review_rules
        day = date.fromisoformat(approved[f"{o['eventRef']}/{o['ruleId']}"])
        assert 1 <= (date.fromisoformat(e["occurredOn"]) - day).days <= 6
    # The ledger takes every one of them (no rejection names a portal event but a broken line).
    result = simulate(lines, catalog).to_contract()
    portal = {e["eventId"] for e in objections}
    portal |= {e["eventId"] for es in payees.values() for e in es}
    assert not portal & {r["eventId"] for r in result["rejectedEvents"]}


def _originals(lines: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each valid original (no revision) by its id: its line number and the event."""
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for row, line in enumerate(lines):
        try:
            parse_event_json(line)
        except InvalidEvent:
            continue
        event = json.loads(line)
        if "revision" not in event:
            found.setdefault(event["eventId"], (row, event))
    return found


def _json_object(line: str) -> dict[str, Any]:
    """The line as a JSON object; {} when it is none (a truncated line)."""
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _payload_type(event: dict[str, Any]) -> str:
    return next(k for k, v in event.items() if isinstance(v, dict) and k != "submittedBy")


def test_the_sample_corrects_and_retracts_a_few_events_after_sending_them() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    originals = _originals(lines)
    reasons: Counter[str] = Counter()
    moved_year = revision_3 = 0
    for row, line in enumerate(lines):
        try:
            parse_event_json(line)
        except InvalidEvent:
            continue
        event = json.loads(line)
        if "revision" in event:
            if event["eventId"] not in originals:
                continue  # sent under an id never sent: refused (below)
            first_row, first = originals[event["eventId"]]
            assert first_row < row, event["eventId"]
            for key in ("source", "enterpriseId"):
                assert event[key] == first[key]
            assert _payload_type(event) == _payload_type(first)
            assert event["occurredOn"] >= first["occurredOn"]
            reasons[event["correctionReason"]] += 1
            moved_year += event["occurredOn"][:4] > first["occurredOn"][:4]
            revision_3 += event["revision"] == 3
        elif "eventRetracted" in event:
            ref_row, ref = originals[event["eventRetracted"]["eventRef"]]
            assert ref_row < row
            assert ref["enterpriseId"] == event["enterpriseId"]
            assert ref["source"] == event["source"]
            reasons[event["eventRetracted"]["reason"]] += 1
    # Few, as in a real year: about 1% of invoices, a handful of certificates and approvals.
    assert 5 <= reasons["发票金额录入错误"] <= 40
    assert 2 <= reasons["开票日期有误"] <= 20
    assert moved_year >= 1
    assert 1 <= revision_3 <= reasons["发票金额录入错误"]
    assert 3 <= reasons["证书误发"] <= 20
    assert 1 <= reasons["核定金额录入错误"] <= 10
    assert sum(reasons.values()) <= 0.02 * len(lines)


def test_the_samples_corrections_are_decided_and_the_wrong_ones_refused() -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    events = _events(lines)
    result = simulate(lines, load_catalog()).to_contract()
    by_event = defaultdict(list)
    for e in result["entitlements"]:
        by_event[e["eventId"]].append(e)
    # An invoice is decided on its revision in force: m08.compute_voucher gives 20% of its
    # amount, in the year of its (corrected) date.
    in_force: dict[str, dict[str, Any]] = {}
    for e in events:
        if "computeInvoiceFiled" in e and ("revision" not in e or e["eventId"] in in_force):
            in_force[e["eventId"]] = e  # a correction of an id never sent replaces nothing
    corrected = [e for e in in_force.values() if "revision" in e]
    assert corrected
    for e in corrected:
        (voucher,) = [x for x in by_event[e["eventId"]] if x["ruleId"] == "m08.compute_voucher"]
        assert voucher["entitledFen"] * 5 == e["computeInvoiceFiled"]["amountFen"]
        assert voucher["year"] == int(e["occurredOn"][:4])
    # A certificate issued in error gives nothing any more, and holds its place as RETRACTED.
    retractions = {e["eventId"]: e["eventRetracted"] for e in events if "eventRetracted" in e}
    certificates = {r["eventRef"] for r in retractions.values()} - retractions.keys()
    assert certificates
    for ref in certificates:
        assert by_event[ref]
        assert all(e["status"] == "RETRACTED" and e["grantedFen"] == 0 for e in by_event[ref])
    # The feeds' wrong attempts are refused, each naming its field: a correction without its
    # reason, one of an id never sent, a retraction of a retraction; no other correction is.
    # Any line that says it corrects or retracts, valid or not; a broken copy (`:bad`) is
    # refused as any broken line is.
    fixes = {
        e["eventId"]
        for e in map(_json_object, lines)
        if ("revision" in e or "eventRetracted" in e) and not e["eventId"].endswith(":bad")
    }
    refused = Counter(
        r["error"].split(" / ")[0] if "revision:" in r["error"] else r["error"].split(":")[0]
        for r in result["rejectedEvents"]
        if r["eventId"] in fixes
    )
    assert set(refused) == {
        "correctionReason",
        "revision: 无可更正的原事件",
        "eventRetracted.eventRef",
    }
    assert sum(refused.values()) <= 12
