"""The evaluations' CloudEvents ids: one per distinct record, the same for a redelivery."""

from google.protobuf import json_format

from subsidy.domain.catalog import Catalog, apply_overlay, build_catalog, load_catalog, raw_catalog
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2
from tests.factories import event
from tests.support.records import PLAIN_FRAMERS

LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}
CATALOG = load_catalog()
# The next policy version: a lower ceiling for the same rule.
NEXT = build_catalog(
    apply_overlay(raw_catalog(), {"rules": {"m03.municipal_key_lab": {"ceiling_yuan": 500_000}}})
)


def _record(data: dict[str, object], catalog: Catalog) -> tuple[bytes, str]:
    value = json_format.ParseDict(data, events_pb2.EnterpriseEvent()).SerializeToString()
    message = Incoming(topic="in", partition=0, offset=7, key=b"k", value=value)
    out = handle_message(
        message, catalog, output_topic="out", dead_letter_topic="dlq", framers=PLAIN_FRAMERS
    )
    assert out.topic == "out", out.rejection
    return out.value, dict(out.headers)["ce_id"].decode()


def test_a_redelivered_event_keeps_its_id() -> None:
    data = event("certificationObtained", LAB, eventId="ev-ids-1")
    assert _record(data, CATALOG) == _record(data, CATALOG)


def test_the_same_event_evaluated_again_under_another_catalog_is_another_record() -> None:
    data = event("certificationObtained", LAB, eventId="ev-ids-2")
    (before, before_id), (after, after_id) = _record(data, CATALOG), _record(data, NEXT)
    assert before != after
    assert before_id != after_id
    assert before_id.startswith("evaluation/ev-ids-2/")


def test_a_correction_is_another_record() -> None:
    original = event("certificationObtained", LAB, eventId="ev-ids-3")
    corrected = event("certificationObtained", {**LAB, "certificateId": "C-2"}, eventId="ev-ids-3",
                      revision=2, correctionReason="证书编号有误")  # fmt: skip
    assert _record(original, CATALOG)[1] != _record(corrected, CATALOG)[1]
