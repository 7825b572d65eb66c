"""Write docs/rules.md and docs/contract.md from their templates, the catalog and proto/.

    uv run python scripts/gen_docs.py [OUT_DIR]    # `make docs`; OUT_DIR defaults to docs/

The prose lives in docs/templates/*.md.tmpl; every `{{name}}` in a template is filled from what
the platform runs on: the catalog (loaded through subsidy.domain.catalog), the protobuf
descriptors of the generated modules with the comments of their .proto source, the event
models, the feed reader, the topics, and `subsidy simulate` run on an example. A template may use
only the names this script fills, and must use all of them, so that nothing new goes unsaid.
tests/unit/test_generated_docs.py runs this into a temporary directory and fails when the
committed docs differ from what it writes.
"""

import contextlib
import io
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from grpc_tools import protoc
from pydantic import BaseModel

from subsidy.api.v1 import api_pb2
from subsidy.cli.simulate import Format, print_contract
from subsidy.contract import codec
from subsidy.decisions.v1 import decisions_pb2
from subsidy.domain import catalog as catalog_module
from subsidy.domain import events as event_models
from subsidy.domain.catalog import Award, Catalog, Rule, apply_overlay, build_catalog, raw_catalog
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.enums import (
    DISTRICT_NAMES_ZH,
    CertificationKind,
    District,
    StandardLevel,
    StandardRole,
)
from subsidy.domain.money import apply_rate
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2
from subsidy.infra.topics import ALL_TOPICS
from subsidy.ingest import feeds

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TEMPLATES = DOCS / "templates"
PROTO = ROOT / "proto"
CATALOG_PATH = "src/subsidy/domain/policy/catalog.yaml"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
MEASURES_ZH = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
NONE = "—"


def fill(name: str, template: str, values: Mapping[str, str]) -> str:
    """The template with every placeholder replaced; SystemExit naming any left over or unused."""
    used = set(PLACEHOLDER.findall(template))
    if missing := sorted(used - values.keys()):
        raise SystemExit(f"{name}: nothing fills {missing}")
    if unused := sorted(values.keys() - used):
        raise SystemExit(f"{name}: the template does not use {unused}")
    return PLACEHOLDER.sub(lambda m: values[m[1]], template)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a `|` inside a cell is escaped."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(c.replace("|", r"\|") for c in row) + " |" for row in lines)


def yuan(fen: int) -> str:
    """Fen as yuan with thousands separators: 2,000,000 (cents shown only when there are any)."""
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}" if cents else f"{whole:,}"


def percent(fraction: Decimal) -> str:
    """0.20 → 20%."""
    return f"{fraction * 100:f}".rstrip("0").rstrip(".") + "%"


def codes(names: list[str]) -> str:
    """`a`, `b`, `c`."""
    return ", ".join(f"`{n}`" for n in names)


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


def rule_table(catalog: Catalog) -> str:
    """One row per rule, in catalog order."""
    header = ["rule", "measure", "trigger", "award", "amount (yuan)", "caps (yuan)", "years"]
    rows = [
        [
            f"`{r.id}`",
            f"{MEASURES_ZH[r.measure - 1]} {r.title}",
            trigger(r),
            r.award.value,
            amount(r),
            caps(r),
            NONE if r.max_years is None else str(r.max_years),
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
    }
    values |= {f"g{n}_clause": catalog.global_clauses[f"G{n}"] for n in (1, 2, 3)}
    for award in Award:
        ids = [r.id for r in catalog.rules if r.award is award]
        values[f"award_{award.value}"] = codes(ids) if ids else "none at present"
    return values


# --- docs/contract.md: protobuf descriptors, with the comments of their .proto source ---

SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_BYTES: "bytes",
}
EVENTS = events_pb2.DESCRIPTOR
DECISIONS = decisions_pb2.DESCRIPTOR

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
}


def proto_comments() -> dict[str, str]:
    """The comment (leading and trailing) of every message, field, enum, enum value, service and
    method in proto/, by full name (an enum value's is its enum's full name + its own)."""
    well_known = Path(protoc.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "descriptors.pb"
        args = [f"-I{PROTO}", f"-I{well_known}", "--include_source_info"]
        if protoc.main(["protoc", *args, f"--descriptor_set_out={out}", *files]) != 0:
            raise SystemExit("protoc failed")
        parsed = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    comments = {}
    for file in parsed:
        names = _names_by_path(file)
        for location in file.source_code_info.location:
            text = " ".join((location.leading_comments + location.trailing_comments).split())
            name = names.get(tuple(location.path))
            if text and name:
                comments[name] = text
    return comments


def _names_by_path(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Source locations' paths to full names. A path is field numbers of descriptor.proto:
    4 message_type, 5 enum_type, 6 service; in a message 2 field, 3 nested, 4 enum; in an enum
    2 value; in a service 2 method."""
    names: dict[tuple[int, ...], str] = {}

    def enum(path: tuple[int, ...], e: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        names[path] = full = f"{scope}.{e.name}"
        for i, value in enumerate(e.value):
            names[(*path, 2, i)] = f"{full}.{value.name}"

    def message(path: tuple[int, ...], m: descriptor_pb2.DescriptorProto, scope: str) -> None:
        names[path] = full = f"{scope}.{m.name}"
        for i, field in enumerate(m.field):
            names[(*path, 2, i)] = f"{full}.{field.name}"
        for i, nested in enumerate(m.nested_type):
            message((*path, 3, i), nested, full)
        for i, nested_enum in enumerate(m.enum_type):
            enum((*path, 4, i), nested_enum, full)

    for i, m in enumerate(file.message_type):
        message((4, i), m, file.package)
    for i, e in enumerate(file.enum_type):
        enum((5, i), e, file.package)
    for i, service in enumerate(file.service):
        names[(6, i)] = full = f"{file.package}.{service.name}"
        for j, method in enumerate(service.method):
            names[(6, i, 2, j)] = f"{full}.{method.name}"
    return names


def proto3_optional(field: FieldDescriptor) -> bool:
    """Declared `optional`: protoc gives such a field a oneof of its own, `_<name>`."""
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == f"_{field.name}"


def type_name(field: FieldDescriptor) -> str:
    """The field's type as the .proto writes it: string, `District`, list of `Reason`…"""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields
        return f"map of {type_name(key)} to {type_name(value)}"
    if field.message_type is not None:
        base = f"`{field.message_type.name}`"
    elif field.enum_type is not None:
        base = f"`{field.enum_type.name}`"
    else:
        base = SCALARS[field.type]
    return f"list of {base}" if field.is_repeated else base


class Proto:
    """The generated modules' descriptors, read with the comments of their source."""

    def __init__(self) -> None:
        self.comments = proto_comments()

    def about(self, full_name: str) -> str:
        """A descriptor's comment, or nothing."""
        return self.comments.get(full_name, "")

    def message(self, m: Descriptor, model: type[BaseModel] | None = None) -> str:
        """A message's fields (those outside a oneof payload) as a table. With the pydantic model
        that validates the message's JSON, a `required` column says what it insists on."""
        fields = [f for f in m.fields if f.containing_oneof is None or proto3_optional(f)]
        if model is None:
            rows = [
                [
                    f"`{f.json_name}`",
                    ("optional " if proto3_optional(f) else "") + type_name(f),
                    self.about(f.full_name),
                ]
                for f in fields
            ]
            return table(["field", "type", "meaning"], rows)
        wanted = {f.name for f in m.fields}
        if set(model.model_fields) != wanted:
            raise SystemExit(f"{m.name}: {model.__name__} validates {sorted(model.model_fields)}")
        rows = [
            [
                f"`{f.json_name}`",
                type_name(f),
                "yes" if model.model_fields[f.name].is_required() else "no",
                self.about(f.full_name),
            ]
            for f in fields
        ]
        return table(["field", "type", "required", "meaning"], rows)

    def section(
        self,
        m: Descriptor,
        level: str = "####",
        model: type[BaseModel] | None = None,
        title: str | None = None,
    ) -> str:
        """A heading (the message's name, or `title`), the message's comment and its fields."""
        heading = f"{level} `{title or m.name}`"
        return "\n\n".join(
            p for p in (heading, self.about(m.full_name), self.message(m, model)) if p
        )

    def enum(
        self,
        e: EnumDescriptor,
        domain: Iterable[str],
        column: tuple[str, Callable[[str], str]] | None = None,
        heading: bool = True,
    ) -> str:
        """An enum's values (not the zero UNSPECIFIED one), checked against the domain's enum of
        the same codes: a table of their comments, or of `column` computed from each value, or
        a plain list when there is neither."""
        values = [v.name for v in e.values if v.number != 0]
        if sorted(values) != sorted(domain):
            raise SystemExit(f"{e.name}: the proto has {values}, the domain {sorted(domain)}")
        if column is not None:
            header, cells = column[0], [column[1](v) for v in values]
        else:
            header, cells = "meaning", [self.about(f"{e.full_name}.{v}") for v in values]
        if any(cells):
            body = table(
                ["value", header], [[f"`{v}`", c] for v, c in zip(values, cells, strict=True)]
            )
        else:
            body = codes(values)
        if not heading:
            return body
        return "\n\n".join(p for p in (f"#### `{e.name}`", self.about(e.full_name), body) if p)


def payloads(proto: Proto) -> tuple[list[FieldDescriptor], str]:
    """The payload fields of EnterpriseEvent, and a section per payload."""
    envelope = EVENTS.message_types_by_name["EnterpriseEvent"]
    fields = list(envelope.oneofs_by_name["payload"].fields)
    if [f.json_name for f in fields] != list(event_models.PAYLOAD_TYPES):
        raise SystemExit("EnterpriseEvent's payloads are not the domain's PAYLOAD_TYPES")
    sections = []
    for f in fields:
        message = f.message_type
        assert message is not None
        # The pydantic model of the same name validates the payload's JSON.
        model = getattr(event_models, message.name)
        sections.append(proto.section(message, model=model, title=f.json_name))
    return fields, "\n\n".join(sections)


def feed_values() -> dict[str, str]:
    """The provincial feed: its header, and where each column goes."""
    columns = [*feeds.REQUIRED_COLUMNS, *feeds.OPTIONAL_COLUMNS]
    rows = []
    for column in columns:
        paths = [p for p, c in feeds.COLUMN_OF_PATH.items() if c == column]
        rows.append(
            [
                f"`{column}`",
                "yes" if column in feeds.REQUIRED_COLUMNS else "no",
                ", ".join(f"`{p}`" for p in paths),
            ]
        )
    return {
        "feed_header": ",".join(feeds.REQUIRED_COLUMNS)
        + "".join(f"[,{c}]" for c in feeds.OPTIONAL_COLUMNS),
        "feed_columns": table(["column", "required", "event fields"], rows),
        "feed_source": feeds.DEFAULT_SOURCE,
        "feed_event_id": feeds.derived_event_id("<feed>", "<证书编号>"),
    }


def export_values(proto: Proto, catalog: Catalog) -> dict[str, str]:
    """The simulate/export JSON: its keys, its entitlements' fields, and the example's output."""
    lines = (TEMPLATES / "simulate-example.jsonl").read_text("utf-8").splitlines()
    result = simulate(lines, catalog).to_contract()
    if set(result) != set(EXPORT_MEANINGS):
        raise SystemExit(f"simulate now prints {sorted(result)}: describe them in EXPORT_MEANINGS")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print_contract(result, Format.json)
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


def services(proto: Proto) -> str:
    """Each gRPC service: its comment and its methods."""
    parts = []
    for service in api_pb2.DESCRIPTOR.services_by_name.values():
        rows = [
            [
                f"`{m.name}`",
                ("stream of " if m.client_streaming else "") + f"`{m.input_type.name}`",
                ("stream of " if m.server_streaming else "") + f"`{m.output_type.name}`",
            ]
            for m in service.methods
        ]
        heading = f"### `{service.full_name}`"
        about = proto.about(service.full_name)
        parts.append(
            "\n\n".join(p for p in (heading, about, table(["rpc", "takes", "returns"], rows)) if p)
        )
    return "\n\n".join(parts)


def contract_values(raw: dict[str, Any], catalog: Catalog) -> dict[str, str]:
    """What docs/templates/contract.md.tmpl is filled with."""
    proto = Proto()
    enums = EVENTS.enum_types_by_name
    decisions = DECISIONS.message_types_by_name
    payload_fields, payload_sections = payloads(proto)
    ledger_payloads = [
        f"`{f.json_name}`" for f in payload_fields if f.json_name in event_models.LEDGER_PAYLOADS
    ]

    def rules_of(kind: str) -> str:
        return codes([r.id for r in catalog.rules_for("certificationObtained", kind)]) or NONE

    award = DECISIONS.enum_types_by_name["Award"]
    # The codec's mapping: the Award values share the package's scope with Status's.
    kind_of = {award.values_by_number[n].name: a.value for a, n in codec._AWARD_TO_PB.items()}
    evaluation = [
        proto.message(decisions["Evaluation"]),
        proto.section(decisions["Entitlement"]),
        proto.section(decisions["TraceStep"]),
        proto.enum(award, kind_of, ("award kind", kind_of.__getitem__)),
    ]
    return {
        "envelope": proto.message(
            EVENTS.message_types_by_name["EnterpriseEvent"], event_models.EnterpriseEvent
        ),
        "payload_list": ", ".join(f"`{f.json_name}`" for f in payload_fields),
        "payloads": payload_sections,
        "enums": "\n\n".join(
            [
                proto.enum(
                    enums["District"], District, ("名称", lambda v: DISTRICT_NAMES_ZH[District(v)])
                ),
                proto.enum(enums["CertificationKind"], CertificationKind, ("triggers", rules_of)),
                proto.enum(enums["StandardLevel"], StandardLevel),
                proto.enum(enums["StandardRole"], StandardRole),
            ]
        ),
        **feed_values(),
        "ledger_payloads": " and ".join([", ".join(ledger_payloads[:-1]), ledger_payloads[-1]]),
        "statuses": proto.enum(DECISIONS.enum_types_by_name["Status"], Status, heading=False),
        "reasons": proto.enum(DECISIONS.enum_types_by_name["Reason"], Reason, heading=False),
        **export_values(proto, catalog),
        "evaluation": "\n\n".join(evaluation),
        "decision": proto.message(decisions["Decision"]),
        **overlay_values(raw, catalog),
        "topics": table(
            ["topic", "partitions", "carries"],
            [[f"`{t.name}`", str(t.partitions), t.purpose] for t in ALL_TOPICS],
        ),
        "dead_letter": "\n\n".join(
            [
                proto.section(EVENTS.message_types_by_name["DeadLetter"], "###"),
                proto.section(EVENTS.message_types_by_name["FieldError"], "###"),
            ]
        ),
        "services": services(proto),
    }


def generate(out: Path) -> None:
    """Write every generated doc into `out`."""
    raw, catalog = load()
    docs: dict[str, Callable[[], dict[str, str]]] = {
        "rules.md": lambda: rules_values(raw, catalog),
        "contract.md": lambda: contract_values(raw, catalog),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, values in docs.items():
        template = (TEMPLATES / f"{name}.tmpl").read_text("utf-8")
        (out / name).write_text(fill(name, template, values()), "utf-8")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
