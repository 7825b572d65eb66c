"""LedgerService queries as a read-only role."""

# Statements, decision pages, explanations and totals, each equal to what `subsidy simulate` gives
# for the same events.

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from subsidy.api.v1 import api_pb2
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.events.v1 import events_pb2 as epb
from tests.ledger.api import (
    AUDITOR,
    MAX_PAGE,
    MUNICIPAL,
    PROVINCIAL,
    REVOKED,
    STRANGER,
    TOP_UP,
    Ledger,
    violated_fields,
)
from tests.ledger.events import CATALOG, YUAN, replay

pytestmark = [pytest.mark.postgres]

# ---- GetStatement ----------------------------------------------------------------------------


async def test_statement_of_a_top_up(stub: Any) -> None:
    s = await stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP), metadata=AUDITOR)
    by_id = {d.entitlement_id: d for d in s.entitlements}
    assert list(by_id) == [MUNICIPAL, PROVINCIAL, "api-topup-3/m08.compute_voucher"]
    assert dpb.Status.Name(by_id[MUNICIPAL].status) == "SUPERSEDED"
    assert (by_id[MUNICIPAL].revision, by_id[MUNICIPAL].granted_fen) == (2, 0)
    assert dpb.Status.Name(by_id[PROVINCIAL].status) == "PAID"
    assert by_id[PROVINCIAL].granted_fen == 20_000_000 * YUAN
    assert s.granted_fen == (20_000_000 + 200_000) * YUAN
    assert s.clawback_fen == 0

    one_year = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=2026), metadata=AUDITOR
    )
    assert [d.entitlement_id for d in one_year.entitlements] == ["api-topup-3/m08.compute_voucher"]
    assert one_year.granted_fen == 200_000 * YUAN
    none = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=2024), metadata=AUDITOR
    )
    assert (list(none.entitlements), none.granted_fen) == ([], 0)


async def test_statement_books_the_clawback_of_a_revocation(stub: Any) -> None:
    s = await stub.GetStatement(
        api_pb2.GetStatementRequest(enterprise_id=REVOKED), metadata=AUDITOR
    )
    (d,) = s.entitlements
    assert dpb.Status.Name(d.status) == "REVOKED"
    assert (d.granted_fen, d.clawback_fen) == (0, 1_000_000 * YUAN)
    assert (s.granted_fen, s.clawback_fen) == (0, 1_000_000 * YUAN)


async def test_every_statement_equals_simulate(stub: Any, ledger: Ledger) -> None:
    expected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in ledger.contract["entitlements"]:
        expected[e["enterpriseId"]].append(e)
    assert len(expected) == 14
    for enterprise, entitlements in expected.items():
        s = await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=enterprise), metadata=AUDITOR
        )
        got = sorted(
            (d.entitlement_id, dpb.Status.Name(d.status), [dpb.Reason.Name(r) for r in d.reasons],
             d.entitled_fen, d.granted_fen)
            for d in s.entitlements
        )  # fmt: skip
        want = sorted(
            (e["entitlementId"], e["status"], e["reasons"], e["entitledFen"], e["grantedFen"])
            for e in entitlements
        )
        assert got == want, enterprise
        assert s.granted_fen == sum(e["grantedFen"] for e in entitlements)


# ---- ListDecisions ---------------------------------------------------------------------------


async def _all_pages(stub: Any, page_size: int, **filters: Any) -> list[dpb.Decision]:
    """Every page, following the tokens; asserts each page is full except the last."""
    out: list[dpb.Decision] = []
    token = ""
    while True:
        page = await stub.ListDecisions(
            api_pb2.ListDecisionsRequest(page_size=page_size, page_token=token, **filters),
            metadata=AUDITOR,
        )
        out.extend(page.decisions)
        token = page.next_page_token
        if not token:
            assert len(page.decisions) <= page_size
            return out
        assert len(page.decisions) == page_size


async def test_pages_of_every_decision_have_no_duplicates_and_no_gaps(
    stub: Any, ledger: Ledger
) -> None:
    _, decisions = replay(ledger.events)
    listed = await _all_pages(stub, 7)
    ids = [d.decision_id for d in listed]
    assert len(ids) == len(set(ids)) == len(decisions) > 250
    assert set(ids) == set(decisions)
    for d in listed:  # what the replay of the pure ledger decided, revision by revision
        status, reasons, entitled, granted, cash, clawback, cause, _ = decisions[d.decision_id]
        assert (dpb.Status.Name(d.status), [dpb.Reason.Name(r) for r in d.reasons], d.entitled_fen,
                d.granted_fen, d.cash_delta_fen, d.clawback_fen, d.caused_by_event_id) == (
                status, reasons, entitled, granted, cash, clawback, cause)  # fmt: skip
    stamps = [datetime.fromisoformat(d.decided_at) for d in listed]
    assert stamps == sorted(stamps)  # oldest first, across pages
    # Each carries its time twice until v2.0.0: the Timestamp and the deprecated string agree.
    assert [d.decided_time.ToDatetime(tzinfo=UTC) for d in listed] == stamps


def _by_filter(listed: list[dpb.Decision]) -> list[tuple[str, dict[str, Any], Callable[..., bool]]]:
    one = listed[len(listed) // 2]
    return [
        ("enterprise", {"enterprise_id": TOP_UP}, lambda d: d.enterprise_id == TOP_UP),
        ("rule", {"rule_id": one.rule_id}, lambda d: d.rule_id == one.rule_id),
        ("measure", {"measure": 3}, lambda d: d.measure == 3),
        ("district", {"district": epb.KUNSHAN}, lambda d: d.district == epb.KUNSHAN),
        ("year", {"year": 2026}, lambda d: d.year == 2026),
        ("status", {"status": dpb.SUPERSEDED}, lambda d: d.status == dpb.SUPERSEDED),
        ("combined", {"measure": 8, "year": 2026, "status": dpb.PAID},
         lambda d: (d.measure, d.year, d.status) == (8, 2026, dpb.PAID)),
    ]  # fmt: skip


async def test_each_filter_pages_exactly_the_matching_decisions(stub: Any) -> None:
    listed = await _all_pages(stub, MAX_PAGE)
    for name, filters, matches in _by_filter(listed):
        want = [d.decision_id for d in listed if matches(d)]
        assert want, f"the stream has decisions for the {name} filter"
        got = [d.decision_id for d in await _all_pages(stub, 4, **filters)]
        assert got == want, name  # same order, no duplicates, no gaps


async def test_latest_only_lists_each_entitlements_current_state(stub: Any, ledger: Ledger) -> None:
    current = await _all_pages(stub, 9, latest_only=True)
    assert sorted(d.entitlement_id for d in current) == sorted(
        e["entitlementId"] for e in ledger.contract["entitlements"]
    )
    contract = {e["entitlementId"]: e for e in ledger.contract["entitlements"]}
    assert all(dpb.Status.Name(d.status) == contract[d.entitlement_id]["status"] for d in current)
    superseded_now = await _all_pages(stub, 3, latest_only=True, status=dpb.SUPERSEDED)
    assert MUNICIPAL in {d.entitlement_id for d in superseded_now}
    assert {d.entitlement_id for d in superseded_now} == {
        k for k, e in contract.items() if e["status"] == "SUPERSEDED"
    }


async def test_page_size_is_bounded(stub: Any) -> None:
    huge = await stub.ListDecisions(api_pb2.ListDecisionsRequest(page_size=10**6), metadata=AUDITOR)
    assert len(huge.decisions) == MAX_PAGE
    assert huge.next_page_token
    default = await stub.ListDecisions(api_pb2.ListDecisionsRequest(), metadata=AUDITOR)
    assert len(default.decisions) == 20


async def test_a_page_token_only_continues_its_own_filters(stub: Any) -> None:
    first = await stub.ListDecisions(
        api_pb2.ListDecisionsRequest(page_size=2, measure=3), metadata=AUDITOR
    )
    assert first.next_page_token
    for request in (
        api_pb2.ListDecisionsRequest(page_size=2, measure=8, page_token=first.next_page_token),
        api_pb2.ListDecisionsRequest(page_token="bm90IGEgdG9rZW4"),
        api_pb2.ListDecisionsRequest(page_token="%%%"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListDecisions(request, metadata=AUDITOR)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(err.value) == ["pageToken"]


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (api_pb2.ListDecisionsRequest(measure=13), ["measure"]),
        (api_pb2.ListDecisionsRequest(rule_id="m99.nothing"), ["ruleId"]),
        (api_pb2.ListDecisionsRequest(enterprise_id="91320500MA0000001"), ["enterpriseId"]),
        (api_pb2.ListDecisionsRequest(enterprise_id=TOP_UP[:-1] + "0"), ["enterpriseId"]),
        (api_pb2.ListDecisionsRequest(district=999), ["district"]),  # type: ignore[arg-type]
        (api_pb2.ListDecisionsRequest(status=dpb.ELIGIBLE), ["status"]),
        (api_pb2.ListDecisionsRequest(year=-2025), ["year"]),
        (api_pb2.ListDecisionsRequest(page_size=-1), ["pageSize"]),
        (api_pb2.ListDecisionsRequest(measure=0, year=10_000, rule_id="x"), ["ruleId", "year"]),
    ],
    ids=["measure", "rule", "short-id", "check-char", "district", "eligible", "year", "size",
         "several"],
)  # fmt: skip
async def test_a_bad_filter_is_invalid_argument_naming_it(
    stub: Any, request_: api_pb2.ListDecisionsRequest, fields: list[str]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListDecisions(request_, metadata=AUDITOR)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(err.value) == fields


async def test_other_bad_requests_name_their_field(stub: Any) -> None:
    calls = [
        (stub.GetStatement(api_pb2.GetStatementRequest(), metadata=AUDITOR), "enterpriseId"),
        (stub.GetStatement(api_pb2.GetStatementRequest(enterprise_id=TOP_UP, year=0),
                           metadata=AUDITOR), "year"),
        (stub.ExplainDecision(api_pb2.ExplainDecisionRequest(), metadata=AUDITOR),
         "entitlementId"),
        (stub.GetTotals(api_pb2.GetTotalsRequest(), metadata=AUDITOR), "groupBy"),
    ]  # fmt: skip
    for call, field in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(err.value) == [field]


async def test_unknown_enterprise_and_entitlement_are_not_found(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetStatement(
            api_pb2.GetStatementRequest(enterprise_id=STRANGER), metadata=AUDITOR
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert STRANGER in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ExplainDecision(
            api_pb2.ExplainDecisionRequest(entitlement_id="nowhere/m03.municipal_key_lab"),
            metadata=AUDITOR,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


# ---- ExplainDecision -------------------------------------------------------------------------


def _checks(x: api_pb2.ExplainDecisionResponse) -> dict[tuple[int, str], dict[str, str]]:
    return {(c.revision, c.check): {"outcome": c.outcome, **c.numbers} for c in x.checks}


async def test_explain_a_top_up(stub: Any) -> None:
    x = await stub.ExplainDecision(
        api_pb2.ExplainDecisionRequest(entitlement_id=PROVINCIAL), metadata=AUDITOR
    )
    assert x.decision.entitlement_id == PROVINCIAL
    assert dpb.Status.Name(x.decision.status) == "PAID"
    assert x.decision.cash_delta_fen == 19_000_000 * YUAN  # cash moved: the difference
    checks = _checks(x)
    assert checks[(1, "stacking")] == {
        "outcome": "ok",
        "thisRuleTotal": "¥20,000,000.00",
        "bestOtherRule": "m03.municipal_key_lab",
        "bestOtherTotal": "¥1,000,000.00",
    }
    assert checks[(1, "top_up")] == {
        "outcome": "ok",
        "granted": "¥20,000,000.00",
        "alreadyPaidOnItem": "¥1,000,000.00",
        "cashMoved": "¥19,000,000.00",
    }
    assert checks[(1, "item_cap")]["headroomAfter"] == "¥0.00"
    assert checks[(1, "window")]["occurredOn"] == "2025-09-01"
    assert [(h.revision, dpb.Status.Name(h.status)) for h in x.history] == [(1, "PAID")]
    # The grant it superseded on the same lab: paid, then SUPERSEDED by this event.
    assert [
        (h.entitlement_id, h.revision, dpb.Status.Name(h.status), h.caused_by_event_id)
        for h in x.item_history
    ] == [
        (MUNICIPAL, 1, "PAID", "api-topup-1"),
        (MUNICIPAL, 2, "SUPERSEDED", "api-topup-2"),
    ]
    trace = {t.key: (t.label_zh, t.label_en, t.value) for t in x.eligibility_trace}
    assert trace, "the eligibility trace is stored with the entitlement"
    assert all(zh and en for zh, en, _ in trace.values())


async def test_explain_the_superseded_grant(stub: Any) -> None:
    x = await stub.ExplainDecision(
        api_pb2.ExplainDecisionRequest(entitlement_id=MUNICIPAL), metadata=AUDITOR
    )
    assert [(h.revision, dpb.Status.Name(h.status), h.granted_fen) for h in x.history] == [
        (1, "PAID", 1_000_000 * YUAN),
        (2, "SUPERSEDED", 0),
    ]
    assert x.decision == x.history[-1]
    assert _checks(x)[(2, "superseded")] == {
        "outcome": "SUPERSEDED",
        "byEntitlement": PROVINCIAL,
        "byTotal": "¥20,000,000.00",
    }
    assert [h.entitlement_id for h in x.item_history] == [PROVINCIAL]


# ---- GetTotals -------------------------------------------------------------------------------


def _expected_totals(ledger: Ledger) -> dict[str, dict[str, tuple[int, int, int]]]:
    """From `subsidy simulate`'s output, the catalog and the events: (granted, count, shared)."""
    district: dict[str, str] = {}
    for raw in ledger.events:
        district.setdefault(raw["eventId"], raw["district"])
    sums: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for e in ledger.contract["entitlements"]:
        if e["status"] not in ("PAID", "PARTIALLY_PAID"):
            continue
        rule = CATALOG.rule(e["ruleId"])
        units = sorted(set(rule.responsible_units))
        keys = {
            "MEASURE": [str(rule.measure)],
            "RULE": [rule.id],
            "DISTRICT": [district[e["eventId"]]],
            "YEAR": [str(e["year"])],
            "FUNDING_CHANNEL": units,
        }
        for group, group_keys in keys.items():
            for key in group_keys:
                row = sums[group][key]
                row[0] += e["grantedFen"]
                row[1] += 1
                if group == "FUNDING_CHANNEL" and len(units) > 1:
                    row[2] += e["grantedFen"]
    return {g: {k: (v[0], v[1], v[2]) for k, v in rows.items()} for g, rows in sums.items()}


@pytest.mark.parametrize("group", ["MEASURE", "RULE", "DISTRICT", "YEAR", "FUNDING_CHANNEL"])
async def test_totals_equal_sums_over_simulate(stub: Any, ledger: Ledger, group: str) -> None:
    expected = _expected_totals(ledger)[group]
    t = await stub.GetTotals(
        api_pb2.GetTotalsRequest(group_by=api_pb2.TotalsGroup.Value(group)), metadata=AUDITOR
    )
    assert {r.key: (r.granted_fen, r.entitlements, r.shared_fen) for r in t.totals} == expected
    granted = [e for e in ledger.contract["entitlements"]
               if e["status"] in ("PAID", "PARTIALLY_PAID")]  # fmt: skip
    assert t.granted_fen == sum(e["grantedFen"] for e in granted) > 0
    assert t.entitlements == len(granted)
    if group == "FUNDING_CHANNEL":  # shared payouts are listed under each of their units
        assert sum(r.granted_fen for r in t.totals) > t.granted_fen
        assert sum(r.granted_fen - r.shared_fen for r in t.totals) < t.granted_fen
    else:
        assert sum(r.granted_fen for r in t.totals) == t.granted_fen
    if group in ("MEASURE", "YEAR"):
        assert [int(r.key) for r in t.totals] == sorted(int(r.key) for r in t.totals)
