"""A writer onto entitlements.v1 cannot mint money."""

# The real ledger worker judges every event again under its own policy and sets aside (dead letter,
# metric) what its policy does not give.

import dataclasses
from typing import Any

import pytest

from subsidy.contract.codec import evaluation_to_proto
from subsidy.domain.catalog import apply_overlay, build_catalog, raw_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.lifecycle import running
from subsidy.ledger import metrics
from subsidy.ledger.bootstrap import ledger_worker
from tests.factories import event
from tests.ledger.database import LedgerDb, export, worker_settings
from tests.ledger.events import CATALOG
from tests.ledger.topics import Topics, produce, read_all, wait_consumed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

YUAN = 100


def _record(raw: dict[str, Any], forge: Any = None, catalog: Any = CATALOG) -> tuple[bytes, bytes]:
    evaluation = evaluate(parse_event(raw), catalog)
    if forge is not None:
        evaluation = forge(evaluation)
    return raw["enterpriseId"].encode(), evaluation_to_proto(evaluation).SerializeToString()


def _uncapped(evaluation: Any) -> Any:
    (e,) = evaluation.entitlements
    minted = dataclasses.replace(e, entitled_fen=900_000_000 * YUAN, ceiling_fen=None,
                                 item_cap_fen=None)  # fmt: skip
    return dataclasses.replace(evaluation, entitlements=(minted,))


@pytest.mark.redteam
async def test_forged_and_foreign_evaluations_are_set_aside_and_pay_nothing(
    kafka_bootstrap: str, ledger_db: LedgerDb, ledger_topics: Topics
) -> None:
    lab = {"kind": "MUNICIPAL_KEY_LAB", "certificateId": "C"}
    honest = event("certificationObtained", {**lab, "itemId": "lab-1"}, eventId="ok-1")
    forged = event("certificationObtained", {**lab, "itemId": "lab-2"}, eventId="mint-1")
    other = event("certificationObtained", {**lab, "itemId": "lab-3"}, eventId="other-1")
    raised = build_catalog(
        apply_overlay(
            raw_catalog(), {"rules": {"m03.municipal_key_lab": {"ceiling_yuan": 5_000_000}}}
        )
    )
    records = [
        _record(honest),
        _record(forged, forge=_uncapped),
        _record(other, catalog=raised),  # judged by a policy the ledger does not hold
    ]
    before = metrics.POLICY_REFUSED._value.get()
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger_topics)
    async with running(ledger_worker(settings, CATALOG)) as worker:
        await produce(kafka_bootstrap, ledger_topics.input, records)
        await wait_consumed(kafka_bootstrap, ledger_topics.input, settings.group_id)
    assert worker.stats.dead_letters == 2
    assert metrics.POLICY_REFUSED._value.get() - before == 2
    exported = await export(ledger_db.url)
    assert [(e["entitlementId"], e["grantedFen"]) for e in exported["entitlements"]] == [
        ("ok-1/m03.municipal_key_lab", 1_000_000 * YUAN)
    ]
    letters = sorted(
        (
            epb.DeadLetter.FromString(v)
            for _, v in read_all(kafka_bootstrap, ledger_topics.dead_letters)
        ),
        key=lambda d: d.event_id,
    )
    assert [d.event_id for d in letters] == ["mint-1", "other-1"]
    assert "entitlements[mint-1/m03.municipal_key_lab]: entitled_fen" in letters[0].error
    assert "catalog_version: judged by policy version" in letters[1].error
    assert "(not held here)" in letters[1].error
