"""Reads decisions from Kafka and plans their deliveries in PostgreSQL before committing offsets."""

# aiokafka rather than faust: the notifier needs no stream tables, windows or changelogs, only full
# control over *when* an offset is committed — strictly after the PostgreSQL transaction that
# planned the batch has committed. faust acknowledges and commits offsets on its own schedule, which
# would let a crash between its commit and ours lose a decision.
#
# Any Kafka writer can put a record on decisions.v1, so a decision counts only when the ledger's
# relay signed it: an Ed25519 signature over the exact value bytes in the `subsidy-signature`
# header, by the key named in `subsidy-key-id`. Anything else is dead-lettered with the reason,
# counted and alerted on, and never notified. The same group reads the ledger's appeal notices on
# appeals.v1, signed over the notice context and the value (subsidy.notifier.appeal_intake).

import asyncio
import dataclasses
from collections.abc import Callable

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import DecodeError

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.infra.dead_letters import dead_letter, letter_id
from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.infra.records import RecordWriter, unframe
from subsidy.infra.retries import DATABASE_OUTAGE
from subsidy.infra.signing_keys import (
    APPEAL_NOTICE_CONTEXT,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    Verifier,
)
from subsidy.notifier import appeal_intake as appeals
from subsidy.notifier import metrics
from subsidy.notifier import repository as repo
from subsidy.notifier.planner import Planned, needs_people, plan, responsible_units
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import Subscription

log = structlog.get_logger(__name__)

STAGE = "notifier"


def refusal(
    record: ConsumerRecord[bytes, bytes], verifier: Verifier, context: bytes = b""
) -> str | None:
    """Why the record is not a decision (an appeal notice: its `context`) of the ledger (a
    metric label), or None when the ledger's key signed the context and the value bytes."""
    headers = dict(record.headers or ())
    signature, key_id = headers.get(SIGNATURE_HEADER), headers.get(KEY_ID_HEADER)
    if not signature or not key_id:
        return "unsigned"
    if key_id != verifier.key_id.encode():
        return "unknown_key"
    if not verifier.valid(signature, context + (record.value or b"")):
        return "bad_signature"
    return None


_REFUSED = {
    "unsigned": "not signed by the ledger (no subsidy-signature / subsidy-key-id header)",
    "unknown_key": "signed by a key that is not the ledger's",
    "bad_signature": "the signature does not match the record: forged or altered",
}


def payload_view(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    """The record with its value out of the registry's wire format: the ledger signed the
    payload, not the frame. A broken frame is left as it is, to be refused as unsigned."""
    try:
        return (
            dataclasses.replace(record, value=unframe(record.value)[1]) if record.value else record
        )
    except ValueError:
        return record


def decode(record: ConsumerRecord[bytes, bytes]) -> dpb.Decision | None:
    """The record's Decision, or None (logged, counted) when it is not one."""
    try:
        if record.value is None:
            raise DecodeError("empty record")
        decision = dpb.Decision.FromString(record.value)
        if not decision.decision_id or not decision.enterprise_id:
            raise DecodeError("no decision_id or enterprise_id")
    except DecodeError as err:
        metrics.UNDECODABLE.inc()
        log.error(
            "notifier.undecodable",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(err),
        )
        return None
    return decision


class DecisionConsumer:
    """One member of the notifier's consumer group, on a consumer started for it
    (`subsidy.notifier.bootstrap`)."""

    def __init__(
        self,
        settings: NotifierSettings,
        pool: asyncpg.Pool,
        catalog: Catalog,
        on_planned: Callable[[], None],
        consumer: AIOKafkaConsumer,
        verifier: Verifier,
        producer: RecordWriter,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._catalog = catalog
        self._on_planned = on_planned
        self._consumer = consumer
        self._verifier = verifier
        self._producer = producer

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`, one planning transaction and one offset commit per batch."""
        s = self._settings
        consumer = self._consumer
        backoff = DATABASE_OUTAGE.backoff("notifier.plan_failed")
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=s.batch_size)
            if not batches:
                continue
            try:
                await self.handle(batches)
            except DATABASE_ERRORS as err:
                # Not planned, so not committed: rewind and try the same records again.
                delay = backoff.failed(err)
                for tp, records in batches.items():
                    try:
                        consumer.seek(tp, records[0].offset)
                    except Exception as seek_err:  # revoked meanwhile: the new owner reads it
                        log.info("notifier.seek_skipped", partition=tp.partition,
                                 error=str(seek_err))  # fmt: skip
                await asyncio.sleep(delay)
                continue
            backoff.succeeded()
            offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
            try:
                await consumer.commit(offsets)
            except KafkaError as err:
                # A rebalance took the partitions: their new owner re-reads the records,
                # and planning them again inserts nothing.
                log.warning("notifier.commit_failed", error=str(err))

    async def handle(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> int:
        """Plan one batch; returns how many deliveries were newly planned."""
        consumed: list[repo.Consumed] = []
        notices: list[appeals.TakenNotice] = []
        seen: set[str] = set()
        refused: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        for records in batches.values():
            for original in records:
                # Checked and read as payload; set aside as read, frame and all (a dead
                # letter carries the original bytes).
                record = payload_view(original)
                if record.topic == self._settings.appeals_topic:
                    if reason := self._take_notice(record, notices):
                        refused.append((original, reason))
                    continue
                metrics.DECISIONS_CONSUMED.inc()
                reason = refusal(record, self._verifier)
                if reason is not None:
                    refused.append((original, reason))
                    continue
                decision = decode(record)
                # A duplicate inside one batch is skipped here; across batches by the table.
                if decision is None or decision.decision_id in seen:
                    continue
                seen.add(decision.decision_id)
                assert record.value is not None  # decode() returned a decision
                consumed.append(repo.Consumed(decision, record.value, record.partition,
                                              record.offset))  # fmt: skip
        await self._dead_letter(refused)
        if not consumed and not notices:
            return 0
        enterprise_ids, bureaus = appeals.wanted(notices, self._catalog)
        enterprise_ids |= {c.decision.enterprise_id for c in consumed}
        bureaus |= {
            unit
            for c in consumed
            if needs_people(c.decision)
            for unit in responsible_units(c.decision, self._catalog)
        }
        async with self._pool.acquire() as conn:
            by_enterprise, by_bureau = await repo.subscriptions_for(conn, enterprise_ids, bureaus)
            fresh = await self._plan_decisions(conn, consumed, by_enterprise, by_bureau)
            if notices:
                planned = appeals.plan_all(notices, self._catalog, by_enterprise, by_bureau)
                fresh += await appeals.record_notices(conn, notices, planned)
        for p in fresh:
            metrics.PLANNED.labels(p.channel, p.audience).inc()
        if fresh:
            log.info("notifier.planned", decisions=len(consumed), appeal_notices=len(notices),
                     deliveries=len(fresh))  # fmt: skip
            self._on_planned()
        return len(fresh)

    def _take_notice(
        self, record: ConsumerRecord[bytes, bytes], notices: list[appeals.TakenNotice]
    ) -> str | None:
        """An appeal.v1 record: refused (the reason returned) unless the ledger signed it,
        skipped unless a notice (or one already in this batch); kept otherwise."""
        reason = refusal(record, self._verifier, APPEAL_NOTICE_CONTEXT)
        if reason is not None:
            return reason
        notice = appeals.decode_notice(record)
        if notice is None or any(t.notice.notice_id == notice.notice_id for t in notices):
            return None
        assert record.value is not None  # decode_notice() returned a notice
        notices.append(appeals.TakenNotice(notice, record.value, record.partition, record.offset))
        return None

    async def _plan_decisions(
        self, conn: asyncpg.Connection, consumed: list[repo.Consumed],
        by_enterprise: dict[str, Subscription], by_bureau: dict[str, Subscription],
    ) -> list[Planned]:  # fmt: skip
        """Plan the decisions and record them; what was planned now."""
        if not consumed:
            return []
        planned: list[Planned] = []
        for c in consumed:
            try:
                planned += plan(
                    c.decision, self._catalog, by_enterprise.get(c.decision.enterprise_id),
                    by_bureau,
                )  # fmt: skip
            except Exception:
                # A decision we cannot render must not block its partition for ever; it is
                # still recorded (notifier_decisions) and the error is in the log.
                log.exception("notifier.unplannable", decision_id=c.decision.decision_id)
        return await repo.record_batch(conn, consumed, planned)

    def _what(self, record: ConsumerRecord[bytes, bytes]) -> str:
        return "appeal notice" if record.topic == self._settings.appeals_topic else "decision"

    async def _dead_letter(self, refused: list[tuple[ConsumerRecord[bytes, bytes], str]]) -> None:
        """Set the refused records aside, acknowledged before their offsets are committed."""
        sends = []
        for record, reason in refused:
            metrics.FORGED.labels(reason).inc()
            log.error("notifier.decision_refused", reason=reason, topic=record.topic,
                      partition=record.partition, offset=record.offset)  # fmt: skip
            letter = dead_letter(
                stage=STAGE, topic=record.topic, partition=record.partition,
                offset=record.offset, key=record.key, value=record.value,
                error=f"{self._what(record)} refused: {_REFUSED[reason]}",
            )  # fmt: skip
            topic = self._settings.dead_letter_topic
            value = letter.SerializeToString()
            ce_id = letter_id(record.topic, record.partition, record.offset)
            sends.append(await self._producer.send(topic, value, key=record.key, ce_id=ce_id))
        await asyncio.gather(*sends)
