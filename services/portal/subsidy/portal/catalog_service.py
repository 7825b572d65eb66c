"""CatalogService: the policy as the platform applies it, for anyone to read."""

# Its rules, clauses and versions, as OpenFisca's /parameters does.

from datetime import date, datetime
from typing import Any

from connectrpc.request import RequestContext

from subsidy.api.v1 import portal_pb2 as pb
from subsidy.domain.beijing import BEIJING
from subsidy.domain.catalog import Catalog
from subsidy.domain.catalog_schema import Rule
from subsidy.portal.errors import field_error


def _day(value: date) -> str:
    """A version's bound as YYYY-MM-DD; the open ends of the timeline as empty."""
    return "" if value in (date.min, date.max) else value.isoformat()


def _rule(rule: Rule) -> pb.CatalogRule:
    return pb.CatalogRule(
        id=rule.id,
        measure=rule.measure,
        title=rule.title,
        clause=rule.clause,
        event_type=rule.trigger.payload,
        kinds=sorted(kind.name for kind in rule.trigger.kinds),
        award=rule.award.value,
        responsible_units=list(rule.responsible_units),
        ceiling_fen=rule.ceiling_fen,
        rate="" if rule.rate is None else str(rule.rate),
        annual_cap_fen=rule.annual_cap_fen,
        item_cap_fen=rule.item_cap_fen,
        max_years=rule.max_years,
        second_review_from_fen=rule.second_review_from_fen,
        publicity_days=rule.publicity_days,
    )


class CatalogService:
    """The catalog's rules in force on a date, and the policy's versions."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def list_rules(
        self, request: pb.ListRulesRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListRulesResponse:
        """The version in force on `on` (today in Beijing when empty), with every rule."""
        try:
            on = date.fromisoformat(request.on) if request.on else datetime.now(BEIJING).date()
        except ValueError:
            raise field_error("on", "a date YYYY-MM-DD") from None
        version = self._catalog.at(on)
        return pb.ListRulesResponse(
            policy_id=version.policy_id,
            title=version.title,
            version=version.version,
            effective_from=_day(version.effective_from),
            effective_to=_day(version.effective_to),
            rules=[_rule(rule) for rule in version.rules],
            global_clauses=dict(version.global_clauses),
        )

    async def list_versions(
        self, request: pb.ListVersionsRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ListVersionsResponse:
        """Every version of the policy, first to last."""
        return pb.ListVersionsResponse(
            versions=[
                pb.PolicyVersion(
                    version=v.version,
                    effective_from=_day(v.effective_from),
                    effective_to=_day(v.effective_to),
                )
                for v in self._catalog.timeline
            ]
        )
