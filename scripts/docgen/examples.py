"""docs/contract.md's worked examples: simulate on the example events, the example overlay."""

import contextlib
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from scripts.docgen.common import CATALOG_PATH, NONE, TEMPLATES, codes, percent, table, yuan
from scripts.docgen.proto_tables import DECISIONS, Proto, type_name
from subsidy.domain import catalog as catalog_module
from subsidy.domain.catalog import Award, Catalog, apply_overlay, build_catalog
from subsidy.domain.simulate import simulate
from subsidy.infra.cli_output import OutputFormat
from subsidy.infra.export_format import print_contract

# What the JSON of `subsidy simulate` / `subsidy ledger export` holds, key by key.
EXPORT_MEANINGS = {
    "entitlements": "every entitlement's state, sorted by `entitlementId` (below)",
    "rejectedEvents": 'every event rejected, as `{"eventId", "error"}` (`eventId` null when '
    "the event had no usable id); each distinct pair once, sorted",
    "parkedEvents": "reviews still waiting for the event they refer to, as "
    '`{"eventId", "eventRef"}`, sorted',
}
# The catalog's own keys of a rule, and of its trigger; then the keys an overlay may change.
CATALOG_RULE_MEANINGS = {
    "id": "`m<measure>.<name>`, unique; an entitlement's id ends with it",
    "measure": "the policy's measure, 1–12",
    "title": "the measure's heading, and which part of it the rule is",
    "clause": "the policy's words the rule implements, quoted verbatim",
    "trigger": "which events the rule reads (below)",
    "responsible_units": "the measure's 责任单位: the funding channels (G3)",
    "staged": "true when each stage of one item is an event of its own, adding up within the "
    "item cap",
}
TRIGGER_MEANINGS = {
    "payload": "the payload type (`certificationObtained`, `computeInvoiceFiled`, …)",
    "kinds": "the certification kinds, for `certificationObtained` only",
    "min_model_params_billions_exclusive": "`modelParamsBillions` must be above it",
    "min_application_scenarios": "`applicationScenarios` must be at least it",
}
OVERLAY_RULE_MEANINGS = {
    "award": "the award kind: " + ", ".join(f"`{a.value}`" for a in Award),
    "ceiling_yuan": "the ceiling, whole yuan; given to a referred rule, it makes it pay as a "
    "ceiling rule",
    "rate": "a rate rule's share, a decimal in (0, 1]",
    "annual_cap_yuan": "the cap per enterprise and calendar year, whole yuan",
    "item_cap_yuan": "the cap per item, whole yuan; `null` for none (unset, a ceiling or review "
    "rule's item cap is its ceiling)",
    "max_years": "in how many distinct calendar years one enterprise may get money under the rule",
    "humanoid_uplift": "how much more a humanoid product gets (amount and item cap), a decimal "
    "in (0, 1]",
    "second_review_from_yuan": "a review rule's four-eyes threshold, whole yuan: an approval of "
    "at least it needs two distinct reviewers; `null` for one reviewer at any amount (unset, "
    "the policy's default)",
    "paying_unit": "G3 原渠道: which of the rule's responsible units pays the city's part "
    "(unset, the first; docs/payouts.md)",
    "city_share": "G3 财政体制: the city's share of each payment, a decimal in [0, 1] or shares "
    "by district with a `default` (unset, the policy's `funding.city_share`)",
    "publicity_days": "G3 公示: days an award is on public notice before it is paid; `null` for "
    "none (unset, the policy's `funding.publicity_days` for a review rule, none otherwise)",
}
# The Rule attributes an overlay can change, as the effect table names and shows them.
RULE_FIGURES = {
    "award": "award",
    "ceiling_fen": "ceiling (yuan)",
    "rate": "rate",
    "annual_cap_fen": "annual cap (yuan)",
    "item_cap_fen": "item cap (yuan)",
    "max_years": "years",
    "humanoid_uplift": "humanoid uplift",
    "second_review_from_fen": "two reviewers from (yuan)",
}


def export_values(proto: Proto, catalog: Catalog) -> dict[str, str]:
    """The simulate/export JSON: its keys, its entitlements' fields, and the example's output."""
    lines = (TEMPLATES / "simulate-example.jsonl").read_text("utf-8").splitlines()
    result = simulate(lines, catalog).to_contract()
    if set(result) != set(EXPORT_MEANINGS):
        raise SystemExit(f"simulate now prints {sorted(result)}: describe them in EXPORT_MEANINGS")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print_contract(result, OutputFormat.json)
    decision = {f.json_name: f for f in DECISIONS.message_types_by_name["Decision"].fields}
    keys = list(result["entitlements"][0])
    if missing := [k for k in keys if k not in decision]:
        raise SystemExit(f"simulate's entitlements have {missing}, which Decision has not")
    return {
        "export_keys": table(["key", "holds"], [[f"`{k}`", EXPORT_MEANINGS[k]] for k in result]),
        "export_entitlement": table(
            ["field", "type", "meaning"],
            [[f"`{k}`", type_name(decision[k]), proto.about(decision[k].full_name)] for k in keys],
        ),
        "example_events": "\n".join(lines),
        "example_output": printed.getvalue().rstrip("\n"),
    }


def _figure(attr: str, value: object) -> str:
    """A Rule attribute as the effect table shows it: fen as yuan, fractions as percentages."""
    if value is None:
        return NONE
    if attr.endswith("_fen"):
        assert isinstance(value, int)
        return yuan(value)
    if isinstance(value, Decimal):
        return percent(value)
    return value.value if isinstance(value, Award) else str(value)


def overlay_values(raw: dict[str, Any], catalog: Catalog) -> dict[str, str]:
    """Which keys an overlay may hold, and the example overlay with its effect on the catalog."""
    if set(OVERLAY_RULE_MEANINGS) != catalog_module.OVERLAY_RULE_KEYS:
        raise SystemExit("describe every key of catalog.OVERLAY_RULE_KEYS in OVERLAY_RULE_MEANINGS")
    if set(CATALOG_RULE_MEANINGS) != catalog_module.RULE_KEYS - catalog_module.OVERLAY_RULE_KEYS:
        raise SystemExit("describe every key of catalog.RULE_KEYS in CATALOG_RULE_MEANINGS")
    if set(TRIGGER_MEANINGS) != catalog_module.TRIGGER_KEYS:
        raise SystemExit("describe every key of catalog.TRIGGER_KEYS in TRIGGER_MEANINGS")
    example = (TEMPLATES / "overlay-example.yaml").read_text("utf-8")
    changed = build_catalog(apply_overlay(raw, yaml.safe_load(example)))
    rows = [
        ["(policy)", f"`{key}`", str(getattr(catalog, key)), str(getattr(changed, key))]
        for key in ("valid_from", "valid_to")
        if getattr(catalog, key) != getattr(changed, key)
    ]
    for before, after in zip(catalog.rules, changed.rules, strict=True):
        for attr, label in RULE_FIGURES.items():
            old, new = getattr(before, attr), getattr(after, attr)
            if old != new:
                rows.append([f"`{before.id}`", label, _figure(attr, old), _figure(attr, new)])
    rows.append(["(catalog)", "content version", f"`{catalog.version}`", f"`{changed.version}`"])

    def described(meanings: Mapping[str, str]) -> str:
        return table(["key", "meaning"], [[f"`{k}`", v] for k, v in meanings.items()])

    return {
        "catalog_path": CATALOG_PATH,
        "catalog_rule_keys": described(CATALOG_RULE_MEANINGS),
        "trigger_keys": "; ".join(f"`{k}`: {v}" for k, v in TRIGGER_MEANINGS.items()),
        "overlay_keys": codes(list(catalog_module.OVERLAY_KEYS)),
        "overlay_rule_keys": described(OVERLAY_RULE_MEANINGS),
        "overlay_example": example.rstrip("\n"),
        "overlay_effect": table(["rule", "what", "catalog", "with the overlay"], rows),
    }
