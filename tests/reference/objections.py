"""The reference's objections (异议): to an entitlement the enterprise holds, or refused."""

from collections.abc import Iterable

from subsidy.domain.entitlements import Entitlement
from subsidy.domain.events import ObjectionFiled
from subsidy.domain.ledger.errors import UnknownObjectedEvent, UnknownObjectedRule


def check_objection(
    enterprise_id: str,
    objection: ObjectionFiled,
    applied: set[tuple[str, str]],
    entitlements: Iterable[Entitlement],
) -> None:
    """9. An objection names an event the enterprise had applied and a rule that event
    triggered; it changes nothing. Refused otherwise, in the ledger's words."""
    ref, rule_id = objection.event_ref, objection.rule_id
    if (enterprise_id, ref) not in applied:
        raise UnknownObjectedEvent(f"no event {ref!r} for this enterprise")
    wanted = (enterprise_id, f"{ref}/{rule_id}")
    if all((e.enterprise_id, e.entitlement_id) != wanted for e in entitlements):
        raise UnknownObjectedRule(f"event {ref!r} triggered no entitlement under {rule_id!r}")
