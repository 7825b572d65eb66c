"""docs/contract.md: the event envelope, payloads, feed, enums, topics and services."""

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from scripts.docgen.common import NONE, codes, table
from scripts.docgen.examples import export_values, overlay_values
from scripts.docgen.proto_tables import DECISIONS, EVENTS, Proto
from subsidy.api.v1 import api_pb2
from subsidy.contract import codec
from subsidy.domain import events as event_models
from subsidy.domain.catalog import Catalog
from subsidy.domain.entitlements import Reason, Status
from subsidy.domain.enums import (
    DISTRICT_NAMES_ZH,
    CertificationKind,
    District,
    StandardLevel,
    StandardRole,
)
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import feeds, records
from subsidy.infra import kafka_access as access
from subsidy.infra.topics import ALL_TOPICS
from subsidy.ingest.permissions import CHANNELS, SESSION_CHANNEL


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


def _district_name(value: str) -> str:
    return DISTRICT_NAMES_ZH[District(value)]


def provenance_values(proto: Proto) -> str:
    """The Provenance message and its channels, as ingest sets them."""
    return "\n\n".join(
        [
            proto.section(EVENTS.message_types_by_name["Provenance"]),
            proto.enum(
                EVENTS.enum_types_by_name["SubmissionChannel"],
                [epb.SubmissionChannel.Name(v) for v in (*CHANNELS.values(), SESSION_CHANNEL)],
            ),
        ]
    )


def topic_table() -> str:
    """Each topic with who may write and read it: the access table the broker enforces."""
    granted = access.grants()

    def who(topic: str, operation: str) -> str:
        names = [g.principal for g in granted if g.name == topic and g.operation == operation]
        return ", ".join(f"`{n}`" for n in names) or "—"

    return table(
        ["topic", "partitions", "carries", "written by", "read by"],
        [
            [f"`{t.name}`", str(t.partitions), t.purpose, who(t.name, access.WRITE),
             who(t.name, access.READ)]
            for t in ALL_TOPICS
        ],
    )  # fmt: skip


def record_kinds() -> str:
    """What each topic's records are as CloudEvents and in the schema registry."""
    return table(
        ["topic", "`ce_type`", "registry subject", "value"],
        [
            [f"`{name}`", f"`{p.ce_type}`", f"`{p.subject}`",
             "protobuf" if p.message is not None else "JSON (JSON Schema)"]
            for name, p in records.PAYLOADS.items()
        ],
    )  # fmt: skip


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
        "provenance": provenance_values(proto),
        "payload_list": ", ".join(f"`{f.json_name}`" for f in payload_fields),
        "payloads": payload_sections,
        "enums": "\n\n".join(
            [
                proto.enum(enums["District"], District, ("名称", _district_name)),
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
        "decision": "\n\n".join(
            [
                proto.message(decisions["Decision"]),
                proto.section(decisions["Correction"]),
                proto.section(decisions["AppealCause"]),
            ]
        ),
        "appeal_notice": "\n\n".join(
            [
                proto.message(decisions["AppealNotice"]),
                proto.enum(
                    DECISIONS.enum_types_by_name["AppealNoticeKind"],
                    (
                        "APPEAL_FILED",
                        "APPEAL_DISMISSED",
                        "APPEAL_UPHELD_BY_CORRECTION",
                        "APPEAL_REOPENED",
                    ),
                ),
            ]
        ),
        **overlay_values(raw, catalog),
        "topics": topic_table(),
        "record_kinds": record_kinds(),
        "dead_letter": "\n\n".join(
            [
                proto.section(EVENTS.message_types_by_name["DeadLetter"], "###"),
                proto.section(EVENTS.message_types_by_name["FieldError"], "###"),
            ]
        ),
        "services": services(proto),
    }
