"""Kafka records as standard tools read them: the schema registry's wire format and CloudEvents."""

# With a registry, every value is framed in the Confluent wire format (magic byte, schema id,
# message indexes, then the protobuf or JSON bytes) against its record type's schema (subjects by
# record name); every record carries CloudEvents 1.0 binary-mode headers (`ce_*`, `content-type`).
# The framing prefix is computed once per kind by confluent-kafka's own serializer, so it is the
# library's encoding, not ours; each record only prepends those bytes.

import asyncio
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from confluent_kafka.schema_registry import (
    ConfigCompatibilityLevel,
    Schema,
    SchemaRegistryClient,
    ServerConfig,
)
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf.message import Message

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import topics

BACKWARD = ConfigCompatibilityLevel.BACKWARD
MAGIC = 0  # the wire format's first byte; no protobuf message starts with it (field 0 is invalid)
SPEC_VERSION = b"1.0"
_TYPE_PREFIX = "cn.gov.suzhou.subsidy."

# A chain head as the ledger signs it (subsidy.ledger.anchors): JSON, RFC 8785.
ANCHOR_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "LedgerAnchor",
    "type": "object",
    "required": ["type", "chain", "fromSeq", "seq", "entryHashes", "headHash", "signedAt",
                 "keyId", "signature"],
    "properties": {
        "type": {"const": "subsidy.ledger.anchor/1"},
        "chain": {"type": "string"},
        "fromSeq": {"type": "integer"},
        "seq": {"type": "integer"},
        "entryHashes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "headHash": {"type": "string"},
        "signedAt": {"type": "string", "format": "date-time"},
        "keyId": {"type": "string"},
        "signature": {"type": "string"},
    },
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Payload:
    """One kind of record: its protobuf type (None: JSON under ANCHOR_SCHEMA), the registry
    subject it is registered under and its CloudEvents type."""

    subject: str
    ce_type: str
    message: type[Message] | None

    @property
    def content_type(self) -> str:
        return "application/json" if self.message is None else "application/protobuf"


def _protobuf(message: type[Message], ce_type: str) -> Payload:
    return Payload(message.DESCRIPTOR.full_name, _TYPE_PREFIX + ce_type, message)


# By the topic each kind travels on (topics.py). Subjects are named by record, not by topic
# (RecordNameStrategy): a test run's or a second environment's topics carry a prefix, and the
# record type is what a schema describes wherever it travels.
PAYLOADS: dict[str, Payload] = {
    topics.ENTERPRISE_EVENTS.name: _protobuf(epb.EnterpriseEvent, "event.v1"),
    topics.ENTITLEMENTS.name: _protobuf(dpb.Evaluation, "evaluation.v1"),
    topics.DECISIONS.name: _protobuf(dpb.Decision, "decision.v1"),
    topics.APPEALS.name: _protobuf(dpb.AppealNotice, "appeal-notice.v1"),
    topics.DEAD_LETTERS.name: _protobuf(epb.DeadLetter, "dead-letter.v1"),
    topics.LEDGER_ANCHORS.name: Payload("subsidy.ledger.Anchor", _TYPE_PREFIX + "ledger-anchor.v1",
                                        None),
}  # fmt: skip


def _record_subject(ctx: SerializationContext | None, record_name: str | None) -> str | None:
    """confluent-kafka's RecordNameStrategy, typed."""
    return record_name


def _prefix(client: SchemaRegistryClient, payload: Payload, *, register: bool) -> bytes:
    """The wire-format prefix of a kind's values: looked up (writers) or registered."""
    if payload.message is None:
        schema = Schema(json.dumps(ANCHOR_SCHEMA, sort_keys=True), "JSON")
        if register:
            schema_id: int | None = client.register_schema(payload.subject, schema)
        else:
            schema_id = client.lookup_schema(payload.subject, schema).schema_id
        return bytes(SchemaId("JSON", schema_id).id_to_bytes())
    conf = {
        "auto.register.schemas": register,
        "use.deprecated.format": False,
        "subject.name.strategy": _record_subject,
    }
    serializer = ProtobufSerializer(payload.message, client, conf)
    # An empty message encodes to no bytes: what the serializer returns is the prefix alone.
    prefix: bytes = serializer(payload.message(), SerializationContext("", MessageField.VALUE))
    return prefix


def register(client: SchemaRegistryClient) -> dict[str, int]:
    """Register every kind's schema (and the .proto files it imports, as references) with
    BACKWARD compatibility; returns the schema id per subject. A deployment step (`subsidy
    dev schemas`, and `subsidy dev up` with a registry configured), never a writer's."""
    ids = {}
    for payload in PAYLOADS.values():
        client.set_config(payload.subject, ServerConfig(compatibility=BACKWARD))
        ids[payload.subject] = int.from_bytes(_prefix(client, payload, register=True)[1:5], "big")
    return ids


@dataclass(frozen=True, slots=True)
class Framer:
    """Frames one kind's values and names its records as CloudEvents from one source."""

    prefix: bytes
    source: bytes
    ce_type: bytes
    content_type: bytes
    dataschema: bytes

    @property
    def schema_id(self) -> int:
        return int.from_bytes(self.prefix[1:5], "big")

    def frame(self, value: bytes) -> bytes:
        """The value in the wire format."""
        return self.prefix + value

    def headers(self, ce_id: str, *, subject: str | None = None) -> list[tuple[str, bytes]]:
        """CloudEvents binary-mode headers: `ce_id` is the record's own idempotency key."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        headers = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", ce_id.encode()),
            ("ce_source", self.source),
            ("ce_type", self.ce_type),
            ("ce_time", stamp.encode()),
            ("content-type", self.content_type),
        ]
        if self.dataschema:
            headers.append(("ce_dataschema", self.dataschema))
        if subject:
            headers.append(("ce_subject", subject.encode()))
        return headers


def shown_url(url: str) -> str:
    """The registry's URL without the user and password it may carry (confluent-kafka's way
    of basic auth): it goes into every record's ce_dataschema and into error messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)).rstrip("/")


def framer(client: SchemaRegistryClient, registry_url: str, kind: str, source: str) -> Framer:
    """A writer's framer for one kind (a key of PAYLOADS): its schema must be registered
    already, and is looked up as this process compiled it (fails fast otherwise)."""
    payload = PAYLOADS[kind]
    shown = shown_url(registry_url)
    try:
        prefix = _prefix(client, payload, register=False)
    except Exception as err:
        raise RuntimeError(
            f"KAFKA_SCHEMA_REGISTRY_URL {shown}: subject {payload.subject} does not hold"
            f" this release's schema ({err}); register the platform's schemas first"
            " (`subsidy dev schemas`)"
        ) from None
    framed = replace(unframed(kind, source), prefix=prefix)
    return replace(framed, dataschema=f"{shown}/schemas/ids/{framed.schema_id}".encode())


def framers(registry_url: str | None, source: str, kinds: Mapping[str, str]) -> dict[str, Framer]:
    """A writer's framers, by topic, for the kind each topic carries ({topic: kind}), looked
    up once at start; with no registry, framers that only name the records (no prefix)."""
    if registry_url is None:
        return {topic: unframed(kind, source) for topic, kind in kinds.items()}
    client = SchemaRegistryClient({"url": registry_url})
    return {topic: framer(client, registry_url, kind, source) for topic, kind in kinds.items()}


def unframed(kind: str, source: str) -> Framer:
    """A framer for a deployment without a schema registry: CloudEvents headers only."""
    payload = PAYLOADS[kind]
    return Framer(
        b"", source.encode(), payload.ce_type.encode(), payload.content_type.encode(), b""
    )


def unframe(value: bytes) -> tuple[int | None, bytes]:
    """(schema id, payload bytes) of a record value; (None, value) for a value written before
    the wire format (a protobuf message never starts with the magic byte, so this cannot
    mistake one for the other). Raises ValueError for a truncated frame."""
    if not value or value[0] != MAGIC:
        return None, value
    schema_id = SchemaId("PROTOBUF")
    try:
        rest = schema_id.from_bytes(io.BytesIO(value))
    except Exception as err:
        raise ValueError(f"value: broken schema-registry frame ({err})") from None
    return schema_id.id, rest.read()


class RecordWriter:
    """A started producer that writes only the platform's records: each value framed for its
    topic's schema, each record with its CloudEvents headers (after any headers given)."""

    def __init__(self, producer: Any, framers: Mapping[str, Framer]) -> None:
        self.producer = producer
        self._framers = framers

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        ce_id: str,
        subject: str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> "asyncio.Future[Any]":
        """Queue the record; the future is the broker's acknowledgement (as aiokafka's)."""
        framer = self._framers[topic]
        sent: asyncio.Future[Any] = await self.producer.send(
            topic,
            framer.frame(value),
            key=key,
            headers=[*(headers or ()), *framer.headers(ce_id, subject=subject)],
        )
        return sent
