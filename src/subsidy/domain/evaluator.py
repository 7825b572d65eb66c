"""The pure eligibility evaluator: one event in, its entitlements (with traces) out."""

from dataclasses import dataclass
from decimal import Decimal

from subsidy.domain.catalog import Award, Catalog, Rule
from subsidy.domain.entitlements import Entitlement, Reason, Status, TraceStep, clip_to_ceiling
from subsidy.domain.events import (
    LEDGER_PAYLOADS,
    CertificationObtained,
    ComputeInvoiceFiled,
    EnterpriseEvent,
)
from subsidy.domain.money import apply_rate, format_fen


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything eligibility concluded about one event."""

    event: EnterpriseEvent
    entitlements: tuple[Entitlement, ...]
    catalog_version: str


def _step(key: str, zh: str, en: str, value: object) -> TraceStep:
    return TraceStep(key, zh, en, str(value))


def _matches(rule: Rule, event: EnterpriseEvent, trace: list[TraceStep]) -> bool:
    """Does the event meet the rule's trigger? Records the thresholds it checked."""
    payload = event.payload
    trigger = rule.trigger
    if isinstance(payload, CertificationObtained):
        return payload.kind in trigger.kinds
    if isinstance(payload, ComputeInvoiceFiled):
        threshold = trigger.min_model_params_billions_exclusive
        if threshold is not None:
            params = payload.model_params_billions
            # Decimal(str(x)) so that 10.0 is exactly 10: 超百亿 means strictly over.
            ok = params is not None and Decimal(str(params)) > threshold
            trace.append(
                _step(
                    "modelParamsBillions",
                    "参数量(亿→十亿)",
                    "model parameters (bn)",
                    f"{params} > {threshold}: {'是' if ok else '否'}",
                )
            )
            if not ok:
                return False
        minimum = trigger.min_application_scenarios
        if minimum is not None:
            scenarios = payload.application_scenarios
            ok = scenarios is not None and scenarios >= minimum
            trace.append(
                _step(
                    "applicationScenarios",
                    "典型应用场景数",
                    "application scenarios",
                    f"{scenarios} ≥ {minimum}: {'是' if ok else '否'}",
                )
            )
            if not ok:
                return False
    return True


def _amount(
    rule: Rule, event: EnterpriseEvent, uplift: Decimal | None, trace: list[TraceStep]
) -> tuple[Status, int, tuple[Reason, ...]]:
    """Status, entitled amount and reasons of a matching rule."""
    payload = event.payload
    ceiling = rule.ceiling_fen
    if ceiling is not None:
        trace.append(_step("ceiling", "最高额度", "ceiling", format_fen(ceiling)))
    if rule.award is Award.REFERRED:
        trace.append(
            _step(
                "referred",
                "金额另行规定(按相应政策)",
                "amount set by another policy",
                "、".join(rule.responsible_units),
            )
        )
        return Status.REFERRED, 0, ()
    if rule.award is Award.RECORDED:
        trace.append(_step("recorded", "认定记录,无资金", "recognition without money", "0"))
        return Status.RECORDED, 0, ()
    if rule.award is Award.RATE:
        assert rule.rate is not None
        assert isinstance(payload, ComputeInvoiceFiled)
        amount = apply_rate(payload.amount_fen, rule.rate)
        trace.append(_step("base", "实际支付费用", "amount paid", format_fen(payload.amount_fen)))
        trace.append(
            _step(
                "rate",
                "比例(向下取整到分)",
                "rate (rounded down to the fen)",
                f"{rule.rate} → {format_fen(amount)}",
            )
        )
        return Status.ELIGIBLE, amount, ()
    approved = getattr(payload, "approved_amount_fen", None)
    if approved is not None:
        trace.append(_step("approved", "核定金额", "approved amount", format_fen(approved)))
    if rule.award is Award.REVIEW and approved is None:
        trace.append(_step("review", "待评审核定", "awaits a review decision", "PENDING_REVIEW"))
        return Status.PENDING_REVIEW, 0, ()
    base = approved if approved is not None else ceiling
    assert base is not None
    amount, clipped = clip_to_ceiling(base, ceiling)
    if clipped:
        trace.append(
            _step(
                "clip",
                "核定金额超过最高额度,按最高额度",
                "clipped to the ceiling",
                format_fen(amount),
            )
        )
    if uplift is not None:
        raised = apply_rate(amount, 1 + uplift)
        trace.append(
            _step(
                "uplift",
                "人形机器人上浮",
                "humanoid uplift",
                f"+{uplift:.0%}: {format_fen(amount)} → {format_fen(raised)}",
            )
        )
        amount = raised
    return Status.ELIGIBLE, amount, (Reason.CEILING_CLIPPED,) if clipped else ()


def _uplifted(fen: int | None, uplift: Decimal | None) -> int | None:
    """A ceiling or cap raised by the humanoid uplift (上浮20% raises the per-unit support)."""
    if fen is None or uplift is None:
        return fen
    return apply_rate(fen, 1 + uplift)


def evaluate(event: EnterpriseEvent, catalog: Catalog) -> Evaluation:
    """The entitlements an event triggers, one per matching rule, in catalog order."""
    if event.payload_type in LEDGER_PAYLOADS:
        return Evaluation(event, (), catalog.version)
    payload = event.payload
    item_id: str = payload.item_id  # type: ignore[union-attr]
    stage = getattr(payload, "stage", None) or 0
    humanoid = isinstance(payload, CertificationObtained) and bool(payload.humanoid)
    found: list[Entitlement] = []
    for rule in catalog.rules_for(event.payload_type):
        trace = [
            _step("rule", "规则", "rule", f"{rule.id} (第{rule.measure}条 {rule.title})"),
            _step("clause", "政策原文", "clause", rule.clause),
            _step(
                "event",
                "事件",
                "event",
                f"{event.payload_type} {item_id} @ {event.occurred_on.isoformat()}",
            ),
        ]
        if not _matches(rule, event, trace):
            continue
        uplift = rule.humanoid_uplift if humanoid else None
        status, amount, reasons = _amount(rule, event, uplift, trace)
        trace.append(
            _step("entitled", "本规则应享金额", "entitled by this rule", format_fen(amount))
        )
        found.append(
            Entitlement(
                entitlement_id=f"{event.event_id}/{rule.id}",
                event_id=event.event_id,
                enterprise_id=event.enterprise_id,
                rule_id=rule.id,
                item_id=item_id,
                occurred_on=event.occurred_on,
                measure=rule.measure,
                award=rule.award,
                status=status,
                entitled_fen=amount,
                catalog_rank=rule.rank,
                catalog_version=catalog.version,
                clause=rule.clause,
                funding_channels=rule.responsible_units,
                valid_from=catalog.valid_from,
                valid_to=catalog.valid_to,
                reasons=reasons,
                stage=stage if rule.staged else 0,
                ceiling_fen=_uplifted(rule.ceiling_fen, uplift),
                annual_cap_fen=rule.annual_cap_fen,
                item_cap_fen=_uplifted(rule.item_cap_fen, uplift),
                max_years=rule.max_years,
                trace=tuple(trace),
            )
        )
    return Evaluation(event, tuple(found), catalog.version)
