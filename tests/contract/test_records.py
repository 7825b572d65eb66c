"""Kafka records as standard tools read them."""

# CloudEvents headers parsed by the CloudEvents SDK, values framed in the schema registry's wire
# format decoded by confluent-kafka's deserializer.
#
# The registry here is confluent-kafka's in-process one (`mock://`): these are unit tests of the
# framing and the registration flow, not of a registry server.

import base64
import io

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    json_format,
    message_factory,
    timestamp_pb2,
)

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import load_catalog
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import records, topics
from tests.factories import ENTERPRISE, event

CATALOG = load_catalog()


def _registry(name: str) -> SchemaRegistryClient:
    client: SchemaRegistryClient = SchemaRegistryClient.new_client({"url": f"mock://{name}"})
    return client


def _as_cloudevent(value: bytes, headers: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    return from_binary_event(KafkaMessage(dict(headers), None, value))


def test_every_kind_registers_under_its_record_name_and_frames_with_its_id() -> None:
    client = _registry("kinds")
    ids = records.register(client)
    assert set(ids) == {p.subject for p in records.PAYLOADS.values()}
    assert "subsidy.decisions.v1.Decision" in ids
    for kind, payload in records.PAYLOADS.items():
        framer = records.framer(client, "mock://kinds", kind, "/test")
        assert framer.prefix[0] == records.MAGIC
        assert framer.schema_id == ids[payload.subject]


def test_a_standard_deserializer_decodes_a_framed_decision() -> None:
    client = _registry("decode")
    records.register(client)
    framer = records.framer(client, "mock://decode", topics.DECISIONS.name, "/subsidy/ledger")
    decision = dpb.Decision(decision_id="d-1", enterprise_id="91320594MA1X0000XX", revision=2)
    value = framer.frame(decision.SerializeToString())

    # confluent-kafka's own deserializer, given the registry: it reads the schema id and the
    # message indexes from the frame and fetches the writer's schema by id.
    deserializer = ProtobufDeserializer(dpb.Decision, {"use.deprecated.format": False}, client)
    decoded = deserializer(value, SerializationContext("decisions.v1", MessageField.VALUE))
    assert decoded == decision
    assert records.unframe(value) == (framer.schema_id, decision.SerializeToString())


def test_a_consumer_that_knows_only_the_registry_decodes_a_decision() -> None:
    """No compiled class of ours: the writer's schema, its references and the message index
    come from the frame and the registry; only protobuf's own well-known types are assumed."""
    client = _registry("only")
    records.register(client)
    framer = records.framer(client, "mock://only", topics.DECISIONS.name, "/subsidy/ledger")
    decision = dpb.Decision(decision_id="d-2", enterprise_id="91320594MA1X0000XX", revision=3)
    decision.decided_time.FromSeconds(1_780_000_000)
    value = framer.frame(decision.SerializeToString())

    frame = SchemaId("PROTOBUF")
    payload = frame.from_bytes(io.BytesIO(value)).read()
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)

    def add(schema: Schema) -> str:
        for ref in schema.references or ():
            assert ref.subject is not None
            assert ref.version is not None
            add(client.get_version(ref.subject, ref.version).schema)
        assert schema.schema_str is not None
        proto = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(schema.schema_str))
        pool.Add(proto)
        return proto.name

    assert frame.id is not None
    assert frame.message_indexes is not None
    file = pool.FindFileByName(add(client.get_schema(frame.id)))
    (index,) = frame.message_indexes
    writer_type = message_factory.GetMessageClass(list(file.message_types_by_name.values())[index])
    decoded = json_format.MessageToDict(writer_type.FromString(payload))
    assert decoded == json_format.MessageToDict(decision)
    assert decoded["decidedTime"].startswith("2026-")


def test_a_writer_whose_schema_is_not_registered_does_not_start() -> None:
    client = _registry("empty")
    with pytest.raises(RuntimeError, match=r"KAFKA_SCHEMA_REGISTRY_URL .*subsidy\.decisions\.v1"):
        records.framer(client, "mock://empty", topics.DECISIONS.name, "/subsidy/ledger")


def test_the_registry_login_stays_out_of_records_and_messages() -> None:
    # confluent-kafka takes basic-auth credentials from the URL's userinfo; every record's
    # ce_dataschema and the start-up error name the registry without them.
    client = _registry("login")
    records.register(client)
    framer = records.framer(client, "https://svc:s3cret@sr.example:8081/", topics.DECISIONS.name,
                            "/subsidy/ledger")  # fmt: skip
    assert framer.dataschema == f"https://sr.example:8081/schemas/ids/{framer.schema_id}".encode()
    with pytest.raises(RuntimeError) as refused:
        records.framer(_registry("login-empty"), "https://svc:s3cret@sr.example:8081",
                       topics.DECISIONS.name, "/subsidy/ledger")  # fmt: skip
    assert "s3cret" not in str(refused.value)
    assert "https://sr.example:8081" in str(refused.value)


def test_unframed_values_pass_and_a_broken_frame_is_named() -> None:
    legacy = epb.DeadLetter(stage="x").SerializeToString()
    assert records.unframe(legacy) == (None, legacy)
    with pytest.raises(ValueError, match=r"^value: broken schema-registry frame"):
        records.unframe(b"\x00\x00\x01")


def test_the_eligibility_output_is_a_cloudevent_about_the_enterprise() -> None:
    framers = records.framers(None, "/subsidy/eligibility", {
        "out": topics.ENTITLEMENTS.name, "dlq": topics.DEAD_LETTERS.name})  # fmt: skip
    lab = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}
    data = event("certificationObtained", lab, eventId="evt-ce-1")
    value = json_format.ParseDict(data, epb.EnterpriseEvent()).SerializeToString()
    out = handle_message(Incoming("in", 0, 7, b"k", value), CATALOG,
                         output_topic="out", dead_letter_topic="dlq", framers=framers)  # fmt: skip
    assert out.rejection is None
    ce = _as_cloudevent(out.value, out.headers)
    assert ce.get_type() == "cn.gov.suzhou.subsidy.evaluation.v1"
    assert ce.get_source() == "/subsidy/eligibility"
    assert ce.get_id().startswith("evaluation/evt-ce-1/")
    assert ce.get_subject() == ENTERPRISE
    assert ce.get_time().utcoffset() is not None
    assert dict(out.headers)["content-type"] == b"application/protobuf"

    bad = handle_message(Incoming("in", 1, 9, None, b"\xff\xff"), CATALOG,
                         output_topic="out", dead_letter_topic="dlq", framers=framers)  # fmt: skip
    letter = _as_cloudevent(bad.value, bad.headers)
    assert letter.get_type() == "cn.gov.suzhou.subsidy.dead-letter.v1"
    assert letter.get_id() == "dead-letter/in/1/9"
