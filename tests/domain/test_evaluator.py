"""The evaluator's trace: inputs, clause, ceiling, rate, uplift and clip, in zh and en."""

from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from tests.factories import event

CATALOG = load_catalog()


def _trace(payload_type: str, payload: dict[str, object]) -> dict[str, tuple[str, str, str]]:
    (ent,) = evaluate(parse_event(event(payload_type, payload)), CATALOG).entitlements
    return {t.key: (t.label_zh, t.label_en, t.value) for t in ent.trace}


def test_humanoid_trace_shows_clause_clip_and_uplift() -> None:
    steps = _trace(
        "certificationObtained",
        {
            "kind": "FIRST_UNIT_EQUIPMENT",
            "itemId": "u",
            "certificateId": "c",
            "humanoid": True,
            "approvedAmountFen": 150_000_000,
        },
    )
    assert steps["clause"][2] == CATALOG.rule("m09.first_unit").clause
    assert steps["ceiling"] == ("最高额度", "ceiling", "¥1,000,000.00")
    assert steps["clip"][2] == "¥1,000,000.00"
    assert steps["uplift"] == (
        "人形机器人上浮",
        "humanoid uplift",
        "+20%: ¥1,000,000.00 → ¥1,200,000.00",
    )
    assert steps["entitled"][2] == "¥1,200,000.00"


def test_rate_trace_shows_base_and_rounding() -> None:
    steps = _trace("computeInvoiceFiled", {"itemId": "i", "amountFen": 1_000_001})
    assert steps["base"][2] == "¥10,000.01"
    assert steps["rate"] == (
        "比例(向下取整到分)",
        "rate (rounded down to the fen)",
        "0.20 → ¥2,000.00",
    )


def test_referred_trace_names_the_bureaus_and_explain_off_records_nothing() -> None:
    steps = _trace("standardPublished", {"itemId": "s", "level": "LOCAL", "role": "LEAD"})
    assert steps["referred"][2] == "市市场监管局"
    quiet = evaluate(
        parse_event(event("projectDesignated", {"itemId": "p"})), CATALOG, explain=False
    )
    assert quiet.entitlements[0].trace == ()
