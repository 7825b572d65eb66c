"""docs/rules.md: the catalog's rules, clauses and award kinds."""

from typing import Any

from scripts.docgen.common import CATALOG_PATH, DOCS, MEASURES_ZH, NONE, codes, percent, table, yuan
from subsidy.domain.catalog import Award, Catalog, Rule, build_catalog, raw_catalog
from subsidy.domain.enums import (
    CertificationKind,
)
from subsidy.domain.money import apply_rate


def load() -> tuple[dict[str, Any], Catalog]:
    """The catalog the eligibility service loads by default: raw (for what the Catalog does not
    keep, such as the issue date) and validated."""
    raw: dict[str, Any] = raw_catalog()
    return raw, build_catalog(raw)


def trigger(rule: Rule) -> str:
    """The payload, kinds and thresholds that make a rule apply."""
    t = rule.trigger
    text = f"`{t.payload}`"
    if t.kinds:
        kinds = [k.value for k in CertificationKind if k in t.kinds]
        text += (" kind " if len(kinds) == 1 else " kinds ") + codes(kinds)
    conditions = []
    if t.min_model_params_billions_exclusive is not None:
        conditions.append(f"`modelParamsBillions` > {t.min_model_params_billions_exclusive}")
    if t.min_application_scenarios is not None:
        conditions.append(f"`applicationScenarios` ≥ {t.min_application_scenarios}")
    if conditions:
        text += " with " + " and ".join(conditions)
    if rule.staged:
        text += "; staged: each stage (`stage`) is an event of its own"
    return text


def uplifted(fen: int, rule: Rule) -> str:
    """An amount or cap, and what the humanoid uplift raises it to."""
    if rule.humanoid_uplift is None:
        return yuan(fen)
    raised = apply_rate(fen, 1 + rule.humanoid_uplift)
    return f"{yuan(fen)} (humanoid: +{percent(rule.humanoid_uplift)}, {yuan(raised)})"


def amount(rule: Rule) -> str:
    """What the rule alone gives for one event, by award kind."""
    if rule.award is Award.RATE:
        assert rule.rate is not None
        # The evaluator's only rate base: a compute invoice's amount paid.
        if rule.trigger.payload != "computeInvoiceFiled":
            raise SystemExit(f"{rule.id}: a rate rule on {rule.trigger.payload} has no known base")
        return f"{percent(rule.rate)} of `amountFen`"
    if rule.award is Award.REFERRED:
        return "none (left to other policies)"
    if rule.award is Award.RECORDED:
        return "no money"
    assert rule.ceiling_fen is not None
    prefix = "up to" if rule.award is Award.CEILING else "the approved amount, up to"
    return f"{prefix} {uplifted(rule.ceiling_fen, rule)}"


def caps(rule: Rule) -> str:
    """The rule's annual and item caps."""
    parts = []
    if rule.annual_cap_fen is not None:
        parts.append(f"per year {yuan(rule.annual_cap_fen)}")
    if rule.item_cap_fen is not None:
        parts.append(f"per item {uplifted(rule.item_cap_fen, rule)}")
    return "; ".join(parts) or NONE


def four_eyes(rule: Rule) -> str:
    """From which approved amount a review of the rule needs a second reviewer."""
    if rule.award is not Award.REVIEW:
        return NONE
    if rule.second_review_from_fen is None:
        return "never (one reviewer)"
    return f"from {yuan(rule.second_review_from_fen)}"


def rule_table(catalog: Catalog) -> str:
    """One row per rule, in catalog order."""
    header = ["rule", "measure", "trigger", "award", "amount (yuan)", "caps (yuan)", "years",
              "two reviewers (yuan)"]  # fmt: skip
    rows = [
        [
            f"`{r.id}`",
            f"{MEASURES_ZH[r.measure - 1]} {r.title}",
            trigger(r),
            r.award.value,
            amount(r),
            caps(r),
            NONE if r.max_years is None else str(r.max_years),
            four_eyes(r),
            "、".join(r.responsible_units),
        ]
        for r in catalog.rules
    ]
    return table([*header, "responsible units (责任单位)"], rows)


def clauses(catalog: Catalog) -> str:
    """Each distinct clause once, after the rules that quote it."""
    by_clause: dict[str, list[Rule]] = {}
    for rule in catalog.rules:
        by_clause.setdefault(rule.clause, []).append(rule)
    return "\n".join(
        f"- {codes([r.id for r in rules])} ({MEASURES_ZH[rules[0].measure - 1]}): {clause}"
        for clause, rules in by_clause.items()
    )


def _second_review_default(raw: dict[str, Any]) -> str:
    """The policy's default four-eyes threshold, as the catalog document states it."""
    value = raw["policy"].get("second_review_from_yuan")
    if not isinstance(value, int):
        raise SystemExit("catalog: policy.second_review_from_yuan must state the default")
    return yuan(value * 100)


def rules_values(raw: dict[str, Any], catalog: Catalog) -> dict[str, str]:
    """What docs/templates/rules.md.tmpl is filled with."""
    if set(catalog.global_clauses) != {"G1", "G2", "G3"}:
        raise SystemExit(f"catalog: global clauses {sorted(catalog.global_clauses)}, not G1-G3")
    policy_file = f"{catalog.policy_id}.zh.txt"
    if not (DOCS / "policy" / policy_file).is_file():
        raise SystemExit(f"docs/policy/{policy_file}: the policy's text is missing")
    values = {
        "policy_title": catalog.title,
        "issued_on": str(raw["policy"]["issued_on"]),
        "policy_file": policy_file,
        "measure_count": str(len({r.measure for r in catalog.rules})),
        "catalog_path": CATALOG_PATH,
        "catalog_version": catalog.version,
        "valid_from": str(catalog.valid_from),
        "valid_to": str(catalog.valid_to),
        "rule_count": str(len(catalog.rules)),
        "rule_table": rule_table(catalog),
        "clauses": clauses(catalog),
        "second_review_default": _second_review_default(raw),
    }
    values |= {f"g{n}_clause": catalog.global_clauses[f"G{n}"] for n in (1, 2, 3)}
    for award in Award:
        ids = [r.id for r in catalog.rules if r.award is award]
        values[f"award_{award.value}"] = codes(ids) if ids else "none at present"
    return values
