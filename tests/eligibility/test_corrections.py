"""Corrections and retractions through eligibility (docs/contract.md §1)."""

# A corrected event is evaluated like its original and carries its revision to the ledger; a
# retraction creates none.

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from typer.testing import CliRunner

from subsidy.cli.main import app as cli
from subsidy.decisions.v1 import decisions_pb2
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.events import parse_event
from subsidy.eligibility.handler import Incoming, handle_message
from subsidy.events.v1 import events_pb2
from tests.factories import event
from tests.support.records import PLAIN_FRAMERS

IN, OUT, DLQ = "enterprise-events.v1", "entitlements.v1", "dead-letters.v1"
LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _evaluation(data: dict[str, Any], catalog: Catalog) -> decisions_pb2.Evaluation:
    """The event as Kafka bytes through the handler: the Evaluation it publishes."""
    value = json_format.ParseDict(data, events_pb2.EnterpriseEvent()).SerializeToString()
    message = Incoming(topic=IN, partition=0, offset=1, key=b"k", value=value)
    outcome = handle_message(
        message, catalog, output_topic=OUT, dead_letter_topic=DLQ, framers=PLAIN_FRAMERS
    )
    assert outcome.topic == OUT, outcome.rejection
    return decisions_pb2.Evaluation.FromString(outcome.value)


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_correction_is_evaluated_like_its_original_and_carries_its_revision(
    catalog: Catalog,
) -> None:
    original = event("certificationObtained", LAB, eventId="ev-fix")
    corrected = {**original, "revision": 2, "correctionReason": "证书编号录错",
                 "certificationObtained": {**LAB, "certificateId": "C-1a"}}  # fmt: skip
    first = _evaluation(original, catalog)
    second = _evaluation(corrected, catalog)
    # The same entitlement ids: the ledger replaces the original's with the correction's.
    assert [e.entitlement_id for e in second.entitlements] == [
        e.entitlement_id for e in first.entitlements
    ] == ["ev-fix/m03.municipal_key_lab"]  # fmt: skip
    assert (second.event.revision, second.event.correction_reason) == (2, "证书编号录错")
    assert not first.event.HasField("revision")
    assert second.event_hash == parse_event(corrected).content_hash() != first.event_hash


def test_cli_evaluate_names_a_correction_and_a_retraction(tmp_path: Path) -> None:
    corrected = event("certificationObtained", LAB, eventId="ev-c", revision=3,
                      correctionReason="证书日期更正")  # fmt: skip
    retraction = event("eventRetracted", {"eventRef": "ev-0", "reason": "重复报送"})
    path = _jsonl(tmp_path, [json.dumps(e, ensure_ascii=False) for e in (corrected, retraction)])
    text = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path)])
    assert text.exit_code == 0, text.output
    assert "，更正第3版）：1 项资格" in text.stdout
    assert text.stdout.count("撤回此前事件") == 1
    assert "改变台账中已有的资格" not in text.stdout
    english = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path), "--lang", "en"])
    assert ", revision 3): 1 entitlement(s)" in english.stdout
    assert english.stdout.count("withdraws an earlier event") == 1
    evaluated = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path), "--format", "json"])
    doc = json.loads(evaluated.stdout)
    assert [e.get("revision") for e in doc["evaluations"]] == [3, None]
