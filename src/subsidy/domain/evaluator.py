"""The pure eligibility evaluator: one event in, its entitlements (with traces) out."""

from datetime import date
from decimal import Decimal

from subsidy.domain.catalog import Award, Catalog, Rule
from subsidy.domain.entitlements import Entitlement, Reason, Status, TraceStep, clip_to_ceiling
from subsidy.domain.events import (
    LEDGER_PAYLOADS,
    CertificationObtained,
    ComputeInvoiceFiled,
    EnterpriseEvent,
    Payload,
    optional_field,
)
from subsidy.domain.money import apply_rate, format_fen
from subsidy.domain.record import record


@record
class Evaluation:
    """Everything eligibility concluded about one event."""

    event: EnterpriseEvent
    entitlements: tuple[Entitlement, ...]
    catalog_version: str


@record
class _Amount:
    """What a matching rule gives, with the intermediate figures the trace shows."""

    status: Status
    entitled_fen: int
    base_fen: int | None = None  # the approved amount or ceiling, before any uplift
    clipped: bool = False


def _params_over(payload: ComputeInvoiceFiled, threshold: Decimal) -> bool:
    # Decimal(str(x)) so that 10.0 is exactly 10: 超百亿 means strictly over.
    params = payload.model_params_billions
    return params is not None and Decimal(str(params)) > threshold


def _matches(rule: Rule, payload: Payload) -> bool:
    """Does the payload meet the rule's thresholds (the large-model rule's)?"""
    if not isinstance(payload, ComputeInvoiceFiled):
        return True
    threshold = rule.trigger.min_model_params_billions_exclusive
    if threshold is not None and not _params_over(payload, threshold):
        return False
    minimum = rule.trigger.min_application_scenarios
    scenarios = payload.application_scenarios
    return minimum is None or (scenarios is not None and scenarios >= minimum)


def _amount(rule: Rule, payload: Payload, uplift: Decimal | None) -> _Amount:
    """The entitled amount of a matching rule, by award kind (docs/rules.md, "Award kinds")."""
    if rule.award is Award.REFERRED:
        return _Amount(Status.REFERRED, 0)
    if rule.award is Award.RECORDED:
        return _Amount(Status.RECORDED, 0)
    if rule.award is Award.RATE:
        assert rule.rate is not None
        assert isinstance(payload, ComputeInvoiceFiled)
        return _Amount(Status.ELIGIBLE, apply_rate(payload.amount_fen, rule.rate))
    approved: int | None = optional_field(payload, "approved_amount_fen")
    if rule.award is Award.REVIEW and approved is None:
        return _Amount(Status.PENDING_REVIEW, 0)
    base = approved if approved is not None else rule.ceiling_fen
    assert base is not None
    amount, clipped = clip_to_ceiling(base, rule.ceiling_fen)
    return _Amount(Status.ELIGIBLE, _uplifted(amount, uplift), amount, clipped)


def _uplifted(fen: int, uplift: Decimal | None) -> int:
    """An amount or cap raised by the humanoid uplift (上浮20% raises the per-unit support)."""
    return fen if uplift is None else apply_rate(fen, 1 + uplift)


def _explain(
    rule: Rule, event: EnterpriseEvent, uplift: Decimal | None, found: _Amount
) -> tuple[TraceStep, ...]:
    """The steps a person reads: the rule and clause, the inputs used, what was applied."""
    payload = event.payload
    item = optional_field(payload, "item_id") or ""
    steps = [
        TraceStep("rule", "规则", "rule", f"{rule.id} (第{rule.measure}条 {rule.title})"),
        TraceStep("clause", "政策原文", "clause", rule.clause),
        TraceStep("event", "事件", "event",
                  f"{event.payload_type} {item} @ {event.occurred_on.isoformat()}"),
    ]  # fmt: skip

    def step(key: str, zh: str, en: str, value: object) -> None:
        steps.append(TraceStep(key, zh, en, str(value)))

    if isinstance(payload, ComputeInvoiceFiled):
        threshold = rule.trigger.min_model_params_billions_exclusive
        if threshold is not None:
            ok = "是" if _params_over(payload, threshold) else "否"
            step("modelParamsBillions", "参数量(十亿)", "model parameters (billions)",
                 f"{payload.model_params_billions} > {threshold}: {ok}")  # fmt: skip
        minimum = rule.trigger.min_application_scenarios
        if minimum is not None:
            step("applicationScenarios", "典型应用场景数", "application scenarios",
                 f"{payload.application_scenarios} ≥ {minimum}: 是")  # fmt: skip
    if rule.ceiling_fen is not None:
        step("ceiling", "最高额度", "ceiling", format_fen(rule.ceiling_fen))
    approved = optional_field(payload, "approved_amount_fen")
    if found.status is Status.REFERRED:
        step("referred", "金额另行规定(按相应政策)", "amount set by another policy",
             "、".join(rule.responsible_units))  # fmt: skip
    elif found.status is Status.RECORDED:
        step("recorded", "认定记录,无资金", "recognition without money", "0")
    elif found.status is Status.PENDING_REVIEW:
        step("review", "待评审核定", "awaits a review decision", "PENDING_REVIEW")
    elif rule.award is Award.RATE:
        assert isinstance(payload, ComputeInvoiceFiled)
        step("base", "实际支付费用", "amount paid", format_fen(payload.amount_fen))
        step("rate", "比例(向下取整到分)", "rate (rounded down to the fen)",
             f"{rule.rate} → {format_fen(found.entitled_fen)}")  # fmt: skip
    else:
        if approved is not None:
            step("approved", "核定金额", "approved amount", format_fen(approved))
        if found.clipped:
            step("clip", "核定金额超过最高额度,按最高额度", "clipped to the ceiling",
                 format_fen(found.base_fen or 0))  # fmt: skip
        if uplift is not None:
            step("uplift", "人形机器人上浮", "humanoid uplift",
                 f"+{uplift:.0%}: {format_fen(found.base_fen or 0)} → "
                 f"{format_fen(found.entitled_fen)}")  # fmt: skip
    step("entitled", "本规则应享金额", "entitled by this rule", format_fen(found.entitled_fen))
    return tuple(steps)


def evaluate(event: EnterpriseEvent, catalog: Catalog, explain: bool = True) -> Evaluation:
    """The entitlements an event triggers, one per matching rule, in catalog order, under the
    policy version in force on the event's date; with `explain=False` (simulate, benchmarks)
    the readable trace is left out."""
    catalog = catalog.at(event.occurred_on)
    payload_type = event.payload_type
    if payload_type in LEDGER_PAYLOADS:
        return Evaluation(event, (), catalog.version)
    payload = event.payload
    # Read once per event, not per rule: the payload's terms and the version's bounds.
    fields = payload.__dict__
    certification = isinstance(payload, CertificationObtained)
    kind = payload.kind if certification else None  # type: ignore[union-attr]
    humanoid = certification and bool(fields.get("humanoid"))
    item_id: str = fields["item_id"]
    stage = fields.get("stage") or 0
    version_from = None if catalog.effective_from == date.min else catalog.effective_from
    version_to = None if catalog.effective_to == date.max else catalog.effective_to
    found: list[Entitlement] = []
    for rule in catalog.rules_for(payload_type, kind):
        if not _matches(rule, payload):
            continue
        uplift = rule.humanoid_uplift if humanoid else None
        amount = _amount(rule, payload, uplift)
        ceiling = rule.ceiling_fen
        item_cap = rule.item_cap_fen
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
                status=amount.status,
                entitled_fen=amount.entitled_fen,
                catalog_rank=rule.rank,
                catalog_version=catalog.version,
                clause=rule.clause,
                funding_channels=rule.responsible_units,
                valid_from=catalog.valid_from,
                valid_to=catalog.valid_to,
                reasons=(Reason.CEILING_CLIPPED,) if amount.clipped else (),
                stage=stage if rule.staged else 0,
                ceiling_fen=None if ceiling is None else _uplifted(ceiling, uplift),
                annual_cap_fen=rule.annual_cap_fen,
                item_cap_fen=None if item_cap is None else _uplifted(item_cap, uplift),
                max_years=rule.max_years,
                second_review_from_fen=rule.second_review_from_fen,
                version_from=version_from,
                version_to=version_to,
                trace=_explain(rule, event, uplift, amount) if explain else (),
            )
        )
    return Evaluation(event, tuple(found), catalog.version)
