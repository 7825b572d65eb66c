"""The real worker process on the real Kafka: evaluations, dead letters, commits, SIGTERM."""

import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from subsidy.decisions.v1 import decisions_pb2
from subsidy.events.v1 import events_pb2
from tests.eligibility.worker import (
    STOP_WITHIN_S,
    WAIT_S,
    Record,
    Topics,
    Worker,
    eligibility_topics,
    eligibility_worker,
    read_all,
    read_until,
)
from tests.factories import enterprise_id, event
from tests.support.kafka import client_options, connection
from tests.support.topics import create_topics

pytestmark = pytest.mark.kafka

# faust commits acked offsets every 2.8 s (broker_commit_interval): wait for several rounds.
COMMIT_ROUNDS_S = 9.0

A, B = enterprise_id(9101), enterprise_id(9102)
LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}


# ---- plumbing ----------------------------------------------------------------------------


def _event(payload_type: str, payload: dict[str, Any], **top: Any) -> events_pb2.EnterpriseEvent:
    data = event(payload_type, payload, **top)
    return json_format.ParseDict(data, events_pb2.EnterpriseEvent())


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> list[Any]:
    """Send (key, value) pairs in order with acks=all; their RecordMetadata."""
    producer = KafkaProducer(**client_options(bootstrap), acks="all", retries=5)
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in records]
        producer.flush(timeout=30)
        return [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)


def _send_events(bootstrap: str, topic: str, events: list[events_pb2.EnterpriseEvent]) -> None:
    _produce(bootstrap, topic, [(e.enterprise_id.encode(), e.SerializeToString()) for e in events])


def _evaluations(records: list[Record]) -> dict[str, tuple[Record, decisions_pb2.Evaluation]]:
    out = {}
    for r in records:
        ev = decisions_pb2.Evaluation.FromString(r.value)
        out[ev.event.event_id] = (r, ev)
    return out


def _wait_for_evaluations(bootstrap: str, topic: str, ids: set[str]) -> dict[str, Any]:
    records = read_until(bootstrap, topic, lambda rs: ids <= set(_evaluations(rs)))
    return {k: v for k, v in _evaluations(records).items() if k in ids}


def _committed(bootstrap: str, group: str) -> dict[int, int]:
    """The group's committed offsets by partition of whatever it consumes."""
    admin = KafkaAdminClient(**client_options(bootstrap), request_timeout_ms=30_000)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def _metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _wait_consuming(bootstrap: str, topics: Topics, worker: Worker) -> None:
    """Consuming = a probe event came out the other end."""
    probe = _event("certificationObtained", LAB, eventId=f"probe-{uuid.uuid4().hex}")
    _send_events(bootstrap, topics.input, [probe])
    try:
        _wait_for_evaluations(bootstrap, topics.output, {probe.event_id})
    except AssertionError:
        worker.assert_alive()
        raise


# ---- one worker for the session ----------------------------------------------------------


@dataclass(frozen=True)
class Pipeline:
    bootstrap: str
    topics: Topics
    worker: Worker


@pytest.fixture(scope="session")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    log = tmp_path_factory.mktemp("eligibility") / "worker.log"
    with (
        eligibility_topics(kafka_bootstrap, "session") as topics,
        eligibility_worker(kafka_bootstrap, topics, log) as w,
    ):
        _wait_consuming(kafka_bootstrap, topics, w)
        yield Pipeline(kafka_bootstrap, topics, w)


def test_events_in_evaluations_out_keyed_and_in_order(pipeline: Pipeline) -> None:
    run = uuid.uuid4().hex[:8]
    events = [
        _event("certificationObtained", LAB, eventId=f"lab-{run}", enterpriseId=A),
        _event("computeInvoiceFiled",
               {"itemId": "inv-1", "amountFen": 10_000_000, "modelParamsBillions": 20,
                "applicationScenarios": 5},
               eventId=f"inv-{run}", enterpriseId=B),
        _event("certificationObtained",
               {"kind": "FIRST_UNIT_EQUIPMENT", "itemId": "unit-1", "certificateId": "C-2",
                "humanoid": True},
               eventId=f"unit-{run}", enterpriseId=A),
        _event("reviewDecided",
               {"eventRef": f"lab-{run}", "ruleId": "m03.municipal_key_lab", "approved": False},
               eventId=f"review-{run}", enterpriseId=A),
    ]  # fmt: skip
    _send_events(pipeline.bootstrap, pipeline.topics.input, events)

    got = _wait_for_evaluations(
        pipeline.bootstrap, pipeline.topics.output, {e.event_id for e in events}
    )

    amounts = {
        event_id: {e.entitlement_id: e.entitled_fen for e in ev.entitlements}
        for event_id, (_, ev) in got.items()
    }
    assert amounts == {
        f"lab-{run}": {f"lab-{run}/m03.municipal_key_lab": 100_000_000},
        f"inv-{run}": {f"inv-{run}/m08.compute_voucher": 2_000_000,
                       f"inv-{run}/m08.large_model_compute": 5_000_000},
        f"unit-{run}": {f"unit-{run}/m09.first_unit": 120_000_000},  # 上浮20%
        f"review-{run}": {},  # a ledger payload: forwarded, no entitlement of its own
    }  # fmt: skip
    keys = {event_id: record.key for event_id, (record, _) in got.items()}
    assert keys == {f"lab-{run}": A.encode(), f"inv-{run}": B.encode(),
                    f"unit-{run}": A.encode(), f"review-{run}": A.encode()}  # fmt: skip
    # One enterprise, one partition, the order it was produced in.
    a_records = [got[f"{p}-{run}"][0] for p in ("lab", "unit", "review")]
    assert len({r.partition for r in a_records}) == 1
    assert [r.offset for r in a_records] == sorted(r.offset for r in a_records)
    _, review = got[f"review-{run}"]
    assert review.event.review_decided.event_ref == f"lab-{run}"
    assert review.event_hash
    # Each record as a CloudEvent from the eligibility worker, about its enterprise.
    for event_id, (record, _) in got.items():
        headers = dict(record.headers)
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"] == b"cn.gov.suzhou.subsidy.evaluation.v1"
        assert headers["ce_source"] == b"/subsidy/eligibility"
        assert headers["ce_id"].decode().startswith(f"evaluation/{event_id}/")
        assert headers["ce_subject"] == record.key
    # The same, through librdkafka's command line, a client this code does not configure.
    seen = _kcat_headers(pipeline.bootstrap, pipeline.topics.output, len(got))
    assert all("ce_type=cn.gov.suzhou.subsidy.evaluation.v1" in h for h in seen), seen
    assert {h.split("ce_id=evaluation/", 1)[1].split("/", 1)[0] for h in seen} >= set(got)


def _kcat_headers(bootstrap: str, topic: str, count: int) -> list[str]:
    """Each record's headers as kcat prints them (`%h`: name=value,...)."""
    kafka = connection(bootstrap)
    login = [] if not kafka.sasl else [
        "-X", f"security.protocol={kafka.security_protocol}",
        "-X", f"sasl.mechanisms={kafka.sasl_mechanism}",
        "-X", f"sasl.username={kafka.username}", "-X", f"sasl.password={kafka.password}",
    ]  # fmt: skip
    if kafka.cafile is not None:
        login += ["-X", f"ssl.ca.location={kafka.cafile}"]
    done = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%h\n", *login],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line]
    assert len(lines) >= count, done.stderr
    return lines


def test_a_malformed_message_is_dead_lettered_and_the_next_one_processed(
    pipeline: Pipeline,
) -> None:
    run = uuid.uuid4().hex[:8]
    garbage = b"\x08\x96\x01 definitely not an EnterpriseEvent \xff"
    bad_kind = _event("certificationObtained", {**LAB, "kind": "MUNICIPAL_KEY_LAB"},
                      eventId=f"bad-{run}", enterpriseId=A)  # fmt: skip
    bad_kind.certification_obtained.kind = events_pb2.CertificationKind.ValueType(999)  # unknown
    good = _event("certificationObtained", LAB, eventId=f"good-{run}", enterpriseId=A)
    sent = _produce(
        pipeline.bootstrap,
        pipeline.topics.input,
        [(A.encode(), garbage), (A.encode(), bad_kind.SerializeToString()),
         (A.encode(), good.SerializeToString())],
    )  # fmt: skip

    got = _wait_for_evaluations(pipeline.bootstrap, pipeline.topics.output, {good.event_id})
    assert [e.entitlement_id for e in got[good.event_id][1].entitlements] == [
        f"good-{run}/m03.municipal_key_lab"
    ]

    def letters(records: list[Record]) -> dict[bytes, events_pb2.DeadLetter]:
        found = (events_pb2.DeadLetter.FromString(r.value) for r in records)
        return {d.value: d for d in found if d.value in (garbage, bad_kind.SerializeToString())}

    records = read_until(pipeline.bootstrap, pipeline.topics.dead_letter,
                          lambda rs: len(letters(rs)) == 2)  # fmt: skip
    undecodable, invalid = letters(records)[garbage], letters(records)[bad_kind.SerializeToString()]
    for letter, meta in ((undecodable, sent[0]), (invalid, sent[1])):
        assert letter.stage == "eligibility"
        assert (letter.topic, letter.partition, letter.offset) == (
            pipeline.topics.input, meta.partition, meta.offset)  # fmt: skip
        assert letter.key == A.encode()
    assert [f.field for f in undecodable.field_errors] == ["event"]
    assert undecodable.event_id == ""
    assert [f.field for f in invalid.field_errors] == ["certificationObtained.kind"]
    assert invalid.event_id == f"bad-{run}"

    # The stream moved on and committed past all three.
    partition, last = sent[2].partition, sent[2].offset
    deadline = time.monotonic() + WAIT_S
    while _committed(pipeline.bootstrap, pipeline.topics.group).get(partition, -1) <= last:
        assert time.monotonic() < deadline, "offsets not committed past the dead letters"
        time.sleep(0.5)

    metrics = _metrics(pipeline.worker.metrics_port)
    rejected = ("subsidy_eligibility_rejections_total",
                (("field", "certificationObtained.kind"), ("reason", "invalid_event")))  # fmt: skip
    assert metrics[rejected] >= 1
    assert metrics[("subsidy_eligibility_processing_seconds_count", ())] >= 3
    consumed = ("subsidy_eligibility_events_consumed_total", (("payload_type", "invalid"),))
    assert metrics[consumed] >= 2


# ---- shutdown and at-least-once ----------------------------------------------------------


def test_sigterm_stops_a_busy_worker_within_10s_without_committing_unpublished_work(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with (
        eligibility_topics(kafka_bootstrap, "sigterm") as topics,
        eligibility_worker(kafka_bootstrap, topics, tmp_path / "worker.log") as worker,
    ):
        _wait_consuming(kafka_bootstrap, topics, worker)
        batch = [
            _event("certificationObtained", {**LAB, "itemId": f"lab-{i}"},
                   eventId=f"busy-{i}", enterpriseId=enterprise_id(9200 + i % 7))
            for i in range(400)
        ]  # fmt: skip
        _send_events(kafka_bootstrap, topics.input, batch)
        read_until(kafka_bootstrap, topics.output, lambda rs: len(rs) >= 50)

        code, took = worker.terminate()

        assert code == 0, worker.log_tail()
        assert took < STOP_WITHIN_S, f"stopped in {took:.1f}s:\n{worker.log_tail()}"
        assert "eligibility.shutdown_deadline_exceeded" not in worker.log_tail()

        # Every input offset below the committed one has its evaluation on the output topic.
        committed = _committed(kafka_bootstrap, topics.group)
        published = set(_evaluations(read_all(kafka_bootstrap, topics.output)))
        inputs = read_all(kafka_bootstrap, topics.input)
        assert len(inputs) == 401
        covered = [r for r in inputs if r.offset < committed.get(r.partition, 0)]
        assert len(covered) >= 50  # the check below is not vacuous
        missing = [
            r.offset for r in covered
            if events_pb2.EnterpriseEvent.FromString(r.value).event_id not in published
        ]  # fmt: skip
        assert missing == []


def test_nothing_is_committed_until_the_output_is_acknowledged_and_it_is_redelivered(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # The output topic does not exist (and the broker does not create topics), so no publish
    # can be acknowledged.
    with eligibility_topics(kafka_bootstrap, "unacked", with_output=False) as topics:
        waiting = _event("certificationObtained", LAB, eventId=f"w-{uuid.uuid4().hex}")
        with eligibility_worker(kafka_bootstrap, topics, tmp_path / "worker-1.log") as first:
            _send_events(kafka_bootstrap, topics.input, [waiting])
            time.sleep(COMMIT_ROUNDS_S)
            first.assert_alive()
            assert _committed(kafka_bootstrap, topics.group) == {}
            # A stop in the middle of a failing publish is still prompt (faust's default,
            # stream_wait_empty=True, hangs here until killed).
            code, took = first.terminate()
            assert code == 0, first.log_tail()
            assert took < STOP_WITHIN_S, f"stopped in {took:.1f}s:\n{first.log_tail()}"
        assert _committed(kafka_bootstrap, topics.group) == {}

        create_topics(kafka_bootstrap, {topics.output: 3})
        with eligibility_worker(kafka_bootstrap, topics, tmp_path / "worker-2.log") as second:
            got = _wait_for_evaluations(kafka_bootstrap, topics.output, {waiting.event_id})
            assert [e.entitled_fen for e in got[waiting.event_id][1].entitlements] == [100_000_000]
            deadline = time.monotonic() + WAIT_S
            while sum(_committed(kafka_bootstrap, topics.group).values()) < 1:
                assert time.monotonic() < deadline, second.log_tail()
                time.sleep(0.5)
