"""Kafka records as standard tools read them: CloudEvents headers parsed by the CloudEvents SDK,
values framed in the schema registry's wire format decoded by confluent-kafka's deserializer.

The registry here is confluent-kafka's in-process one (`mock://`): these are unit tests of the
framing and the registration flow, not of a registry server.
"""

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import json_format

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


def test_a_writer_whose_schema_is_not_registered_does_not_start() -> None:
    client = _registry("empty")
    with pytest.raises(RuntimeError, match=r"KAFKA_SCHEMA_REGISTRY_URL .*subsidy\.decisions\.v1"):
        records.framer(client, "mock://empty", topics.DECISIONS.name, "/subsidy/ledger")


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
