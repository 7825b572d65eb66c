"""The figures as the page and the JSON endpoints show them: labelled in Chinese, amounts as ¥."""

from datetime import UTC
from typing import Any

from subsidy.dashboard.panels_view import caps_json, channels_json, money, trends_json
from subsidy.dashboard.payouts_view import payouts_json
from subsidy.dashboard.reader import Figures, LatestDecision, Total
from subsidy.domain.beijing import beijing_time
from subsidy.domain.catalog import Catalog
from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import format_fen

_DISTRICT_ZH = {d.value: name for d, name in DISTRICT_NAMES_ZH.items()}

Json = dict[str, Any]


def measure_titles(catalog: Catalog) -> dict[int, str]:
    """Each measure's title: its rules are titled "<measure> · <item>"; the part before the dot."""
    titles: dict[int, str] = {}
    for rule in catalog.rules:
        titles.setdefault(rule.measure, rule.title.split(" · ", 1)[0])
    return dict(sorted(titles.items()))


def measure_label(measure: int) -> str:
    """第N条: how the policy's measures are cited."""
    return f"第{measure}条"


def _money(total: Total) -> Json:
    return {
        "entitlements": total.entitlements,
        "paid": total.paid,
        **money("granted", total.granted_fen),
        **money("clawback", total.clawback_fen),
    }


class DashboardView:
    """Turns figures into the JSON the page renders; the catalog supplies the titles."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.policy_title = catalog.title
        self.measures = measure_titles(catalog)
        self.rule_titles = {
            rule.id: f"{measure_label(rule.measure)} {rule.title}" for rule in catalog.rules
        }
        # The policy's years: every one may be chosen, with data or not yet.
        self.policy_years = list(range(catalog.valid_from.year, catalog.valid_to.year + 1))

    def years(self, figures: Figures) -> list[int]:
        """The years the filter offers: the policy's and any other the ledger holds."""
        return sorted(set(self.policy_years) | set(figures.years))

    def states(self, figures: Figures) -> dict[int | None, tuple[Json, list[Json]]]:
        """The totals and latest decisions of all years (None) and of each year."""
        years = self.years(figures)
        out: dict[int | None, tuple[Json, list[Json]]] = {}
        for year in [None, *years]:
            shown = figures.for_year(year)
            out[year] = ({**self.totals(shown), "year": year, "years": years}, self.latest(shown))
        return out

    def totals(self, figures: Figures) -> Json:
        """Totals overall, by measure (every measure of the catalog), by district (all ten)
        and by status (every status), the payouts (disbursement and budget burn), the monthly
        trends, the funding channels and the annual caps."""
        empty = Total(None, 0, 0, 0, 0, 0)
        measures = {t.key: t for t in figures.by_measure}
        districts = {t.key: t for t in figures.by_district}
        statuses = {t.key: t.entitlements for t in figures.by_status}
        measure_keys = sorted(self.measures.keys() | {int(k) for k in measures if k is not None})
        district_keys = [d.value for d in District]
        district_keys += sorted(str(k) for k in districts if k not in district_keys)
        status_keys = list(STATUS_LABELS_ZH)
        status_keys += sorted(str(k) for k in statuses if k not in STATUS_LABELS_ZH)
        return {
            "policy": self.policy_title,
            "overall": {**_money(figures.overall), "decisions": figures.overall.decisions},
            "byMeasure": [
                {
                    "measure": m,
                    "label": measure_label(m),
                    "title": self.measures.get(m, ""),
                    **_money(measures.get(m, empty)),
                }
                for m in measure_keys
            ],
            "byDistrict": [
                {
                    "district": d,
                    "name": _DISTRICT_ZH.get(d, d),
                    **_money(districts.get(d, empty)),
                }
                for d in district_keys
            ],
            "byStatus": [
                {"status": s, "label": STATUS_LABELS_ZH.get(s, s), "count": statuses.get(s, 0)}
                for s in status_keys
            ],
            "payouts": payouts_json(figures.payouts),
            "trends": trends_json(figures.panels, self.measures),
            "channels": channels_json(self.catalog, figures.panels, figures.payouts),
            "caps": caps_json(figures.panels.caps, self.rule_titles),
        }

    def decision(self, d: LatestDecision) -> Json:
        """One row of the latest decisions."""
        return {
            "id": d.id,
            "decisionId": d.decision_id,
            "decidedAt": d.decided_at.astimezone(UTC).isoformat(),
            "time": beijing_time(d.decided_at),
            "enterpriseId": d.enterprise_id,
            "enterpriseName": d.enterprise_name,
            "ruleId": d.rule_id,
            "rule": self.rule_titles.get(d.rule_id, f"{measure_label(d.measure)} {d.rule_id}"),
            "district": d.district,
            "districtName": _DISTRICT_ZH.get(d.district, d.district),
            "status": d.status,
            "statusLabel": STATUS_LABELS_ZH.get(d.status, d.status),
            "grantedFen": d.granted_fen,
            "granted": format_fen(d.granted_fen),
            "cashDeltaFen": d.cash_delta_fen,
            "cashDelta": format_fen(d.cash_delta_fen),
        }

    def latest(self, figures: Figures) -> list[Json]:
        """The latest decisions, newest first."""
        return [self.decision(d) for d in figures.latest]
