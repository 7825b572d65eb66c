"""The ledger computes each event's content hash itself."""

# A record on entitlements.v1 whose stated hash is not its event's (a Kafka writer passing a
# correction off as a repeat, or a repeat as news) is set aside, never decided.

from types import SimpleNamespace

import pytest

from subsidy.contract.codec import event_to_proto
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.events import parse_event
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.ledger.worker import Undecodable, decode
from tests.factories import event
from tests.ledger.events import CATALOG
from tests.support.records import PLAIN_FRAMERS


def _record(value: bytes) -> SimpleNamespace:
    return SimpleNamespace(topic="entitlements", partition=0, offset=0, value=value)


def _evaluation() -> bytes:
    raw = event("computeInvoiceFiled", {"itemId": "INV-H", "amountFen": 100_000_000})
    incoming = Incoming("events", 0, 0, b"k", event_to_proto(parse_event(raw)).SerializeToString())
    out = handle_message(incoming, CATALOG, output_topic="entitlements",
                         dead_letter_topic="dead-letters", framers=PLAIN_FRAMERS)  # fmt: skip
    assert out.value is not None
    return out.value


def test_a_record_with_its_events_hash_is_decoded() -> None:
    assert decode(_record(_evaluation()), CATALOG).payload_hash


def test_a_record_stating_another_hash_is_set_aside() -> None:
    proto = dpb.Evaluation.FromString(_evaluation())
    proto.event_hash = "0" * 64
    with pytest.raises(Undecodable, match="event_hash"):
        decode(_record(proto.SerializeToString()), CATALOG)
