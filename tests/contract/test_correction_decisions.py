"""A decision a correction or a retraction brought about, as decisions.v1 carries it."""

# Its `correction` (docs/contract.md §2) filled from the ledger's CorrectionNote, absent otherwise.

import pytest

from subsidy.contract.codec import correction_to_proto, decision_to_proto
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import load_catalog
from subsidy.domain.entitlements import Status
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.records import CorrectionNote, Decision
from tests.factories import event

LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}


def _decision(correction: CorrectionNote | None) -> Decision:
    parsed = parse_event(event("certificationObtained", LAB, eventId="ev-lab"))
    (entitlement,) = evaluate(parsed, load_catalog()).entitlements
    return Decision(
        state_ent=entitlement, status=Status.RETRACTED, reasons=(), entitled_fen=0,
        granted_fen=0, clawback_fen=0, cash_delta_fen=-100_000_000, revision=2,
        caused_by_event_id="ev-withdraw", enterprise_name=parsed.enterprise_name,
        district=parsed.district, correction=correction,
    )  # fmt: skip


def test_every_domain_status_is_a_contract_status() -> None:
    assert {s.value for s in Status} == set(dpb.Status.keys()) - {"STATUS_UNSPECIFIED"}
    assert dpb.Status.Name(dpb.RETRACTED) == Status.RETRACTED.value


def test_a_retraction_names_the_event_the_retraction_and_what_was_held_before() -> None:
    note = CorrectionNote(event_id="ev-lab", revision=0, reason="证书信息重复报送",
                          retracted_by="ev-withdraw", previous_status=Status.PAID,
                          previous_granted_fen=100_000_000)  # fmt: skip
    message = decision_to_proto(_decision(note))
    assert message.status == dpb.RETRACTED
    assert message.HasField("correction")
    assert message.correction == dpb.Correction(
        event_id="ev-lab", revision=0, reason="证书信息重复报送", retracted_by="ev-withdraw",
        previous_status=dpb.PAID, previous_granted_fen=100_000_000,
    )  # fmt: skip
    assert dpb.Decision.FromString(message.SerializeToString()) == message


@pytest.mark.parametrize("previous", [None, Status.PENDING_REVIEW])
def test_a_correction_names_its_revision_and_no_retraction(previous: Status | None) -> None:
    note = CorrectionNote(event_id="ev-lab", revision=3, reason="核定金额录入有误",
                          retracted_by=None, previous_status=previous,
                          previous_granted_fen=0)  # fmt: skip
    message = correction_to_proto(note)
    assert (message.revision, message.reason, message.retracted_by) == (3, "核定金额录入有误", "")
    # An entitlement the correction created had no status before it.
    expected = dpb.STATUS_UNSPECIFIED if previous is None else dpb.PENDING_REVIEW
    assert message.previous_status == expected


def test_a_decision_no_correction_brought_about_carries_none() -> None:
    assert not decision_to_proto(_decision(None)).HasField("correction")
