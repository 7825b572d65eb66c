"""The report as JSON for machines: amounts in integer fen, times ISO-8601 with their offset."""

from typing import Any

from subsidy.domain.beijing import in_beijing
from subsidy.domain.catalog import Catalog
from subsidy.reform.diff import Cost, EntitlementChange, Side
from subsidy.reform.labels import (
    channel_label,
    district_label,
    measure_label,
    measure_titles,
)
from subsidy.reform.report import ReformReport

Json = dict[str, Any]


def _cost(c: Cost, labels: tuple[str, str] | None = None) -> Json:
    row: Json = {"key": c.key}
    if labels is not None:
        row["labelZh"], row["labelEn"] = labels
    row.update(
        baselineFen=c.baseline_fen,
        reformFen=c.reform_fen,
        deltaFen=c.delta_fen,
        baselinePaid=c.baseline_paid,
        reformPaid=c.reform_paid,
    )
    return row


def _side(s: Side | None) -> Json | None:
    if s is None:
        return None
    return {
        "status": s.status,
        "reasons": list(s.reasons),
        "entitledFen": s.entitled_fen,
        "grantedFen": s.granted_fen,
    }


def _entitlement(c: EntitlementChange) -> Json:
    return {
        "entitlementId": c.entitlement_id,
        "enterpriseId": c.enterprise_id,
        "enterpriseName": c.enterprise_name,
        "ruleId": c.rule_id,
        "year": c.year,
        "statusChanged": c.status_changed,
        "baseline": _side(c.baseline),
        "reform": _side(c.reform),
        "deltaFen": c.delta_fen,
    }


def _catalog(c: Catalog) -> Json:
    return {
        "catalogVersion": c.version,
        "validFrom": c.valid_from.isoformat(),
        "validTo": c.valid_to.isoformat(),
    }


def _source(report: ReformReport) -> Json:
    h = report.history
    out: Json = {
        "kind": h.source,
        "origin": h.origin,
        "events": len(h.lines),
        "badLines": [{"line": b.line, "eventId": b.event_id, "error": b.error} for b in h.bad],
    }
    if h.ledger is not None:
        last = h.ledger.last_decided_at
        out["ledger"] = {
            "lastDecidedAt": None if last is None else in_beijing(last).isoformat(),
            "missingEvents": h.ledger.missing,
            "expiredReviews": h.ledger.expired,
            "hashMismatches": h.ledger.mismatched,
        }
    check = report.ledger_check
    if check is not None:
        out["baselineCheck"] = {
            "reproduced": check.reproduced,
            "compared": check.compared,
            "matching": check.matching,
            "differing": check.compared - check.matching,
            "firstDiffering": list(check.differing),
            "catalogVersions": list(check.catalog_versions),
        }
    return out


def to_json(report: ReformReport) -> Json:
    """`{"generatedAt", "policy", "source", "baseline", "reform", "total", "byMeasure", …}`."""
    p, c = report.policies, report.comparison
    titles = measure_titles(p.baseline)
    return {
        "generatedAt": report.generated_at.isoformat(),
        "policy": {"id": p.baseline.policy_id, "title": p.baseline.title},
        "source": _source(report),
        "baseline": {
            **_catalog(p.baseline),
            "overlay": None if p.baseline_overlay is None else str(p.baseline_overlay),
        },
        "reform": {
            **_catalog(p.reform),
            "overlay": str(p.reform_overlay),
            "changes": [
                {
                    "ruleId": ch.rule_id,
                    "key": ch.key,
                    "baseline": ch.baseline,
                    "reform": ch.reform,
                    "effectiveFrom": None
                    if ch.effective_from is None
                    else ch.effective_from.isoformat(),
                }
                for ch in p.changes
            ],
        },
        "total": _cost(c.total),
        "byMeasure": [_cost(r, measure_label(int(r.key), titles)) for r in c.by_measure],
        "byDistrict": [_cost(r, district_label(r.key)) for r in c.by_district],
        "byChannel": [_cost(r, channel_label(r.key)) for r in c.by_channel],
        "byYear": [_cost(r, (f"{r.key}年", r.key)) for r in c.by_year],
        "enterprises": [
            {
                "enterpriseId": e.enterprise_id,
                "enterpriseName": e.name,
                "district": e.district,
                "baselineFen": e.baseline_fen,
                "reformFen": e.reform_fen,
                "deltaFen": e.delta_fen,
            }
            for e in c.enterprises
        ],
        "statusTransitions": [{"from": f, "to": t, "count": n} for f, t, n in c.transitions],
        "entitlements": [_entitlement(e) for e in c.entitlements],
        "entitlementsCompared": c.entitlements_compared,
        "rejectedEvents": {"baseline": c.rejected_baseline, "reform": c.rejected_reform},
        "parkedEvents": {"baseline": c.parked_baseline, "reform": c.parked_reform},
    }
