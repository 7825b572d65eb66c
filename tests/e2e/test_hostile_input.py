"""Hostile input at every door (ingest API, feed files, Kafka): refused with a reason, no stall."""

import asyncio
import csv
import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from aiokafka import AIOKafkaProducer
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.simulate import simulate
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.feeds import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from subsidy.infra.grpc_errors import field_violations
from subsidy.infra.lifecycle import running
from subsidy.ingest.service import SERVICE_NAME
from subsidy.ingest.store import Rejected
from subsidy.ledger.bootstrap import ledger_worker
from tests.eligibility.worker import Topics, eligibility_worker, read_until
from tests.factories import bad_check, enterprise_id
from tests.hostile_strategies import (
    BAD_DATES,
    ODD_TEXT,
    Hostile,
    budget,
    clean,
    good_events,
    hostile_json,
    hostile_protos,
    line,
    undecodable_protobuf,
)
from tests.ingest.server import AUTH, SOURCES, Ingest, cert_event
from tests.ledger.database import LedgerDb, export, worker_settings
from tests.ledger.events import CATALOG, EventMix, jsonl
from tests.ledger.topics import Topics as LedgerTopics
from tests.ledger.topics import wait_consumed
from tests.support.kafka import client_options
from tests.support.topics import private_topics

# The fixture ledger_db.
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# gRPC's default limit on a request the server accepts.
MAX_REQUEST = 4 * 1024 * 1024


def _stub(ch: grpc.aio.Channel) -> "api_pb2_grpc.IngestServiceAsyncStub":
    return api_pb2_grpc.IngestServiceStub(ch)  # type: ignore[return-value]


def _expected_rejection(raw: bytes) -> Rejected:
    """How the server must record the refusal of raw (same validator, same digest)."""
    try:
        parse_event_json(raw)
    except InvalidEvent as err:
        return Rejected(err.event_id, tuple(err.errors), hashlib.sha256(raw).hexdigest())
    raise AssertionError(f"{raw[:80]!r} is valid")


async def _fingerprints(ingest: Ingest) -> set[str]:
    conn = await asyncpg.connect(ingest.database_url)
    try:
        return {
            r["fingerprint"] for r in await conn.fetch("SELECT fingerprint FROM ingest_rejections")
        }
    finally:
        await conn.close()


def _assert_refused(err: grpc.aio.AioRpcError, field: str | None, what: object) -> None:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (what, err.code(), err.details())
    violations = field_violations(err)
    fields = [f for f, _ in violations]
    assert violations, what
    assert all(clean(f, 100) and clean(d) for f, d in violations), violations
    if field is not None:
        assert field in fields, (what, fields)


async def _serving(ch: grpc.aio.Channel) -> None:
    """Health says SERVING and a good event is still accepted."""
    checked = await health_pb2_grpc.HealthStub(ch).Check(
        health_pb2.HealthCheckRequest(service=SERVICE_NAME)
    )
    assert checked.status == health_pb2.HealthCheckResponse.SERVING
    sent = cert_event(enterprise=901)
    response = await _stub(ch).Submit(api_pb2.SubmitRequest(event=sent), metadata=AUTH)
    assert response.event_id == sent.event_id


# ---- door 1: the ingest API --------------------------------------------------------------


def _bound(event: dict[str, Any]) -> dict[str, Any]:
    """A good event under a source the tests' writer is bound to: a source the credential may
    not claim is refused (tests/redteam), however well-formed."""
    return {**event, "source": SOURCES[0]}


@budget(2, shrink=False)
@given(st.data())
async def test_the_ingest_api_refuses_every_hostile_event_and_keeps_serving(
    ingest: Ingest, data: st.DataObject
) -> None:
    hostile = data.draw(st.lists(hostile_json(huge=(300, 300_000)), min_size=30, max_size=30))
    protos = data.draw(st.lists(hostile_protos(), min_size=10, max_size=10))
    garbage = data.draw(st.lists(st.binary(min_size=1, max_size=100), min_size=5, max_size=5))
    tag = uuid.uuid4().hex[:8]
    good = [_bound(data.draw(good_events(800 + i, f"{tag}-good-{i}"))) for i in range(6)]

    async with ingest.tls.channel(ingest.address) as ch:
        stub = _stub(ch)
        for h in hostile:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Submit(api_pb2.SubmitRequest(event_json=h.raw), metadata=AUTH)
            _assert_refused(err.value, h.field, (h.how, h.raw[:80]))
        for p in protos:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Submit(api_pb2.SubmitRequest(event=p.message), metadata=AUTH)
            _assert_refused(err.value, p.field, p.how)
        # Bytes that are no SubmitRequest at all, through a method call with no serializer.
        raw_submit = ch.unary_unary(f"/{SERVICE_NAME}/Submit")
        for junk in garbage:
            # Bytes that happen to parse are an ordinary request: answered, refused or not.
            answer = await asyncio.gather(raw_submit(junk, metadata=AUTH), return_exceptions=True)
            if isinstance(answer[0], grpc.aio.AioRpcError):
                assert answer[0].code() in (
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.INTERNAL,
                )
            else:
                assert isinstance(answer[0], bytes), answer

        # The same mixed into one stream: each bad one refused by index, the good ones taken.
        stream = [api_pb2.SubmitRequest(event_json=h.raw) for h in hostile]
        bad = len(stream)
        for i, g in enumerate(good):
            stream.insert(i * 6, api_pb2.SubmitRequest(event_json=line(g)))
        response = await stub.SubmitBatch(iter(stream), metadata=AUTH)
        assert response.accepted == len(good)
        refused = [r.index for r in response.rejected]
        assert refused == [i for i, r in enumerate(stream) if r.event_json not in
                           {line(g) for g in good}]  # fmt: skip
        assert len(refused) == bad
        await _serving(ch)

    recorded = await _fingerprints(ingest)
    missing = [h.how for h in hostile if _expected_rejection(h.raw).fingerprint not in recorded]
    assert missing == []


@pytest.mark.parametrize(("size", "code"), [(1_000_000, "INVALID_ARGUMENT"),
                                             (3_500_000, "INVALID_ARGUMENT"),
                                             (5_000_000, "RESOURCE_EXHAUSTED")])  # fmt: skip
async def test_megabyte_fields_are_refused_and_the_server_goes_on(
    ingest: Ingest, size: int, code: str
) -> None:
    event = json_format.MessageToDict(cert_event(enterprise=902))
    event["enterpriseName"] = "苏" * (size // 3)  # three bytes each in UTF-8
    raw = line(event)
    async with ingest.tls.channel(ingest.address) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _stub(ch).Submit(api_pb2.SubmitRequest(event_json=raw), metadata=AUTH)
        assert err.value.code().name == code
        if len(raw) < MAX_REQUEST:
            _assert_refused(err.value, "enterpriseName", size)
        await _serving(ch)


# ---- door 2: feed files ------------------------------------------------------------------

HEADER = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
# Per column, cells the feed must refuse (each naming that column).
BAD_CELLS: dict[str, st.SearchStrategy[str]] = {
    "统一社会信用代码": st.sampled_from([bad_check(3), enterprise_id(3).lower(), "X" * 300_000]),
    "企业名称": st.sampled_from(["名" * 300, "x" * 300_000]) | ODD_TEXT.map(lambda s: s + "\x07"),
    "所属地区": st.sampled_from(["火星区", "sip", "Z" * 300_000]),
    "认定类型": st.text(alphabet="abcxyz", min_size=1, max_size=20),
    "认定对象编号": st.sampled_from(["i" * 129, "a\x01b"]),
    "认定日期": st.sampled_from([d for d in BAD_DATES if d.strip() and d != " 2025-01-01"]),
    "阶段": st.sampled_from(["0", "-1", "x", "1.5", "99999999999"]),
    "人形机器人": st.sampled_from(["maybe", "yes", "true"]),
    "核定金额(元)": st.sampled_from(["-1", "1.005", "1e999999", "NaN", "abc", "9" * 20]),
    "版次": st.sampled_from(["0", "-2", "x", "1.5", "9" * 20]),
}  # fmt: skip


@st.composite
def _cert_row(draw: st.DrawFn, n: int, cert: str) -> dict[str, str]:
    return {
        "统一社会信用代码": enterprise_id(n), "企业名称": draw(ODD_TEXT),
        "所属地区": "苏州工业园区", "认定类型": "MUNICIPAL_KEY_LAB", "认定对象编号": f"lab-{n}",
        "证书编号": cert, "认定日期": "2025-07-01", "阶段": "1", "人形机器人": "否",
        "核定金额(元)": "1234.56", "版次": "", "更正原因": "",
    }  # fmt: skip


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HEADER)
            writer.writerows([r[c] for c in HEADER] for r in rows)
        return
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for r in rows:
        sheet.append([r[c] for c in HEADER])
    workbook.save(path)


def _report_fields(errors: list[Any]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for e in errors:
        out.setdefault(e.row, set()).add(e.field)
    return out


@budget(2, shrink=False)
@given(st.data())
async def test_feed_files_report_every_hostile_row_and_take_the_good_ones(
    ingest: Ingest, data: st.DataObject
) -> None:
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        # JSONL: hostile lines (one per line, so no raw line breaks) among good ones.
        one_line = hostile_json(huge=(300, 100_000)).filter(
            lambda h: h.raw.strip() != b"" and b"\n" not in h.raw and b"\r" not in h.raw
        )
        hostile: list[Hostile] = data.draw(st.lists(one_line, min_size=20, max_size=20))
        good = [line(_bound(data.draw(good_events(820 + i, f"{tag}-jsonl-{i}"))))
                for i in range(5)]  # fmt: skip
        lines: list[bytes] = []
        expected: dict[int, str | None] = {}
        for i, h in enumerate(hostile):
            if i % 4 == 0:
                lines.append(good[i // 4])
            lines.append(h.raw)
            expected[len(lines)] = h.field
        feed = Path(tmp) / "hostile.jsonl"
        feed.write_bytes(b"\n".join(lines) + b"\n")

        summary = await asyncio.to_thread(ingest.send, feed)

        assert (summary.read, summary.accepted, summary.rejected) == (len(lines), len(good), 20)
        reported = _report_fields(summary.errors)
        assert sorted(reported) == sorted(expected)
        for number, field in expected.items():
            assert field is None or field in reported[number], (number, field, reported[number])

        # CSV and XLSX: rows with one bad cell among good rows, each named by its column.
        for suffix in (".csv", ".xlsx"):
            rows: list[dict[str, str]] = []
            bad_rows: dict[int, str] = {}
            for i in range(12):
                row = data.draw(_cert_row(830 + i, f"{tag}{suffix}-{i}"))
                if i % 3:
                    column = data.draw(st.sampled_from(sorted(BAD_CELLS)))
                    cell = data.draw(BAD_CELLS[column])
                    if suffix == ".xlsx" and not cell.isprintable():
                        cell = "x" * 300_000  # XLSX cannot hold control characters
                        column = "企业名称"
                    row[column] = cell
                    bad_rows[len(rows) + 2] = column  # the header is row 1
                rows.append(row)
            feed = Path(tmp) / f"hostile{suffix}"
            _write(feed, rows)

            summary = await asyncio.to_thread(ingest.send, feed)

            assert summary.file_error is None
            assert (summary.accepted, summary.rejected) == (len(rows) - len(bad_rows),
                                                            len(bad_rows)), suffix  # fmt: skip
            reported = _report_fields(summary.errors)
            assert {r: reported.get(r, set()) >= {c} for r, c in bad_rows.items()} == dict.fromkeys(
                bad_rows, True
            ), (suffix, bad_rows, reported)
            assert set(reported) == set(bad_rows)
            assert all(clean(e.field, 100) for e in summary.errors)


# ---- door 3: straight onto Kafka ---------------------------------------------------------


@pytest.fixture
def kafka_topics(kafka_bootstrap: str) -> Iterator[tuple[Topics, LedgerTopics]]:
    """Eligibility in, out (= ledger in) and dead letters; the ledger's decisions and dead
    letters."""
    elig = Topics.unique("hostile")
    tag = uuid.uuid4().hex[:12]
    ledger = LedgerTopics(elig.output, f"test.hostile.decisions.{tag}", f"test.hostile.ldlq.{tag}")
    names = {elig.input: 3, elig.output: 3, elig.dead_letter: 1, ledger.decisions: 3,
             ledger.dead_letters: 1}  # fmt: skip
    with private_topics(kafka_bootstrap, names):
        yield elig, ledger


Record = tuple[bytes | None, bytes | None, str | None]  # key, value, field to be named


async def _produce(bootstrap: str, topic: str, records: list[Record]) -> list[tuple[int, int]]:
    """(partition, offset) of each record, sent in order."""
    producer = AIOKafkaProducer(**client_options(bootstrap), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sends = [await producer.send(topic, key=k, value=v) for k, v, _ in records]
        return [(m.partition, m.offset) for m in await asyncio.gather(*sends)]
    finally:
        await producer.stop()


@budget(1, shrink=False)
@given(st.data())
async def test_kafka_dead_letters_every_hostile_record_and_decides_the_good_ones(
    kafka_bootstrap: str,
    ledger_db: LedgerDb,
    kafka_topics: tuple[Topics, LedgerTopics],
    data: st.DataObject,
) -> None:
    elig, ledger = kafka_topics
    good = EventMix(seed=5, enterprises=4, events_per_enterprise=10).events()
    good += [data.draw(good_events(840 + i, f"odd-{i}")) for i in range(6)]
    protos = data.draw(st.lists(hostile_protos(), min_size=15, max_size=15))
    noise = data.draw(st.lists(undecodable_protobuf(), min_size=15, max_size=15))
    hostile: list[Record] = [(b"k", p.message.SerializeToString(), p.field) for p in protos]
    hostile += [(None, raw, None) for raw in noise]
    bloated = json_format.ParseDict(good[0], epb.EnterpriseEvent())
    # Just under the broker's max.message.bytes (1 MB), so that a letter carrying it all is over.
    bloated.enterprise_name = "x" * 1_048_200
    hostile += [(b"k", None, "event"), (None, b"", "payload"),
                (b"k" * 100, bloated.SerializeToString(), "enterpriseName")]  # fmt: skip
    good_records: list[Record] = [
        (e["enterpriseId"].encode(),
         json_format.ParseDict(e, epb.EnterpriseEvent()).SerializeToString(), None)
        for e in good
    ]  # fmt: skip
    # Interleaved: bad before, between and after good ones of the same partitions.
    records: list[Record] = []
    bad_at: list[int] = []
    for i, h in enumerate(hostile):
        records.extend(
            good_records[i * len(good) // len(hostile) : (i + 1) * len(good) // len(hostile)]
        )
        bad_at.append(len(records))
        records.append(h)

    log = Path(tempfile.mkdtemp()) / "eligibility.log"
    settings = worker_settings(ledger_db, kafka_bootstrap, ledger, batch_size=50)
    with eligibility_worker(kafka_bootstrap, elig, log) as worker:
        async with running(ledger_worker(settings, CATALOG)):
            placed = await _produce(kafka_bootstrap, elig.input, records)
            letters = await asyncio.to_thread(
                read_until, kafka_bootstrap, elig.dead_letter,
                lambda rs: len(rs) >= len(hostile), 90.0,
            )  # fmt: skip
            outputs = await asyncio.to_thread(
                read_until, kafka_bootstrap, elig.output,
                lambda rs: len(rs) >= len(records) - len(hostile), 90.0,
            )  # fmt: skip
            await wait_consumed(kafka_bootstrap, elig.output, settings.group_id, 60.0)
        worker.assert_alive()

    by_place = {(d.partition, d.offset): d
                for d in (epb.DeadLetter.FromString(r.value) for r in letters)}  # fmt: skip
    expected = {placed[i]: records[i] for i in bad_at}
    assert sorted(by_place) == sorted(expected)
    for place, (_, _, field) in expected.items():
        letter = by_place[place]
        fields = [f.field for f in letter.field_errors]
        assert letter.error, letter
        assert fields, letter
        assert all(clean(f, 100) for f in fields), fields
        if field is not None:
            assert field in fields, (field, fields, letter.error[:200])
    evaluated = [dpb.Evaluation.FromString(r.value).event.event_id for r in outputs]
    assert len(evaluated) == len(good)

    expected_state = simulate(jsonl(good), CATALOG).to_contract()
    assert await export(ledger_db.url) == expected_state
    assert expected_state["entitlements"], "the good events are decided, not just passed"
