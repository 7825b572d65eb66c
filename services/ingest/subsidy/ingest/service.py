"""The IngestService: validate, check the binding, de-duplicate, produce, then record."""

# It checks the caller's binding, de-duplicates by eventId, revision and content hash, and produces
# with the submitter's provenance.

import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

import grpc
import structlog

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_from_proto
from subsidy.domain.events import EnterpriseEvent, FieldError, InvalidEvent, parse_event_json
from subsidy.events.v1 import events_pb2
from subsidy.identity.principal import current_principal
from subsidy.infra.grpc_errors import bad_request
from subsidy.infra.postgres import DATABASE_ERRORS
from subsidy.ingest import metrics
from subsidy.ingest.backlog import Admission
from subsidy.ingest.permissions import SERVICE_NAME as SERVICE_NAME
from subsidy.ingest.permissions import SessionBindings, Submitter, Submitters
from subsidy.ingest.permissions import auth_interceptor as auth_interceptor
from subsidy.ingest.revisions import Known, judge, sender_refusal
from subsidy.ingest.sink import Delivery as Delivery
from subsidy.ingest.sink import EventSink
from subsidy.ingest.sink import Hashed as Hashed
from subsidy.ingest.sink import KafkaEventSink as KafkaEventSink
from subsidy.ingest.sink import event_record as event_record
from subsidy.ingest.store import Accepted, IngestStore, Rejected

log = structlog.get_logger(__name__)

# Events handled per database round trip inside one SubmitBatch stream.
CHUNK = 500
# One SubmitBatch answer lists every rejection; bounding the stream bounds that answer.
MAX_BATCH = 10_000

Outcome = Literal["accepted", "duplicate", "invalid", "conflict", "forbidden"]


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one submitted event."""

    outcome: Outcome
    event_id: str
    errors: tuple[FieldError, ...] = ()


class Unavailable(Exception):
    """Kafka or PostgreSQL did not answer: nothing was recorded that should not have been,
    so the client may retry."""


def _request_digest(request: api_pb2.SubmitRequest) -> str:
    """A digest of the input as submitted: the JSON bytes, or the protobuf message."""
    if request.WhichOneof("input") == "event_json":
        return hashlib.sha256(request.event_json).hexdigest()
    return hashlib.sha256(request.event.SerializeToString(deterministic=True)).hexdigest()


def _event_of(request: api_pb2.SubmitRequest) -> EnterpriseEvent:
    """Validate either form of input with the contract's one validator."""
    if request.WhichOneof("input") == "event_json":
        return parse_event_json(request.event_json)
    return event_from_proto(request.event)


def _screen(
    requests: Sequence[api_pb2.SubmitRequest], submitter: Submitter
) -> tuple[list[Result | None], list[Rejected], list[tuple[int, EnterpriseEvent]]]:
    """Each request validated and checked against the submitter's binding: the outcomes of
    those refused (by index, None for the others), their rejections, and the valid events."""
    results: list[Result | None] = [None] * len(requests)
    rejected: list[Rejected] = []
    valid: list[tuple[int, EnterpriseEvent]] = []
    for i, request in enumerate(requests):
        try:
            event = _event_of(request)
        except InvalidEvent as err:
            # err.event_id, not the request's: an id that is itself invalid (NUL, too
            # long) is not reported, or storing the rejection would fail.
            errors = tuple(err.errors)
            results[i] = Result("invalid", err.event_id or "", errors)
            rejected.append(Rejected(err.event_id, errors, _request_digest(request)))
            continue
        if refusals := submitter.refusals(event):
            results[i] = Result("forbidden", event.event_id, refusals)
            rejected.append(Rejected(event.event_id, refusals, _request_digest(request)))
            _forbidden(submitter, refusals)
            continue
        valid.append((i, event))
    return results, rejected, valid


def _sort_out(
    valid: Sequence[tuple[int, EnterpriseEvent]],
    known: dict[str, Known],
    requests: Sequence[api_pb2.SubmitRequest],
    submitter: Submitter,
    results: list[Result | None],
    rejected: list[Rejected],
) -> list[tuple[int, EnterpriseEvent, str]]:
    """The events to produce (new ids and corrections), in order; the others' outcomes go
    into `results` and `rejected`. `known` is updated as events are taken, so that a repeat or
    a correction later in the same batch is judged against them. A correction by another
    principal than the original's is forbidden."""
    new: list[tuple[int, EnterpriseEvent, str]] = []
    for i, event in valid:
        digest = event.content_hash()
        prior = known.get(event.event_id)
        if refusal := sender_refusal(event, digest, prior, submitter.principal):
            results[i] = Result("forbidden", event.event_id, (refusal,))
            rejected.append(Rejected(event.event_id, (refusal,), _request_digest(requests[i])))
            _forbidden(submitter, (refusal,))
            continue
        verdict, errors = judge(event, digest, prior)
        if verdict == "new":
            revision = event.revision_number
            known[event.event_id] = (
                Known(revision, event.enterprise_id, event.source, {revision: digest},
                      submitter.principal, event.payload_type)
                if prior is None
                else prior.taking(revision, digest)
            )  # fmt: skip
            new.append((i, event, digest))
        elif verdict == "duplicate":
            results[i] = Result("duplicate", event.event_id)
        else:
            results[i] = Result(verdict, event.event_id, errors)
            rejected.append(Rejected(event.event_id, errors, _request_digest(requests[i])))
    return new


class IngestServicer(api_pb2_grpc.IngestServiceServicer):
    """Submit and SubmitBatch over one shared pipeline (see `process`)."""

    def __init__(
        self,
        store: IngestStore,
        sink: EventSink,
        topic: str,
        submitters: Submitters,
        sessions: SessionBindings | None = None,
        admission: Admission | None = None,
    ) -> None:
        # Bulk (SubmitBatch) waits for the pipeline's backlog; Submit never does (backlog.py).
        self._admission = admission or Admission(None, 0, 0)
        self._store = store
        self._sink = sink
        self._topic = topic
        self._submitters = submitters
        self._sessions = sessions

    async def process(
        self, requests: Sequence[api_pb2.SubmitRequest], submitter: Submitter
    ) -> list[Result]:
        """Validate and check the submitter's binding, then under per-id locks: find which ids
        are known and at which revision, produce the new events and corrections with the
        submitter's provenance, await Kafka's
        acknowledgement and only then record them. Raises Unavailable if Kafka or PostgreSQL
        failed; events acknowledged before the failure are still recorded, so a retry finds
        them as duplicates."""
        results, rejected, valid = _screen(requests, submitter)
        provenance = submitter.provenance()
        failure: Exception | None = None
        try:
            async with self._store.locked([e.event_id for _, e in valid]) as ids:
                known = await ids.known([e.event_id for _, e in valid])
                new = _sort_out(valid, known, requests, submitter, results, rejected)
                deliveries = (
                    await self._sink.send_all([(e, d) for _, e, d in new], provenance)
                    if new
                    else []
                )
                accepted: list[Accepted] = []
                for (i, event, digest), delivery in zip(new, deliveries, strict=True):
                    if isinstance(delivery, Exception):
                        failure = failure or delivery
                        continue
                    results[i] = Result("accepted", event.event_id)
                    accepted.append(Accepted(event.event_id, digest, event.enterprise_id,
                                             event.source, self._topic, delivery.partition,
                                             delivery.offset, submitter.principal,
                                             provenance.channel, event.revision_number,
                                             event.payload_type))  # fmt: skip
                await ids.record_accepted(accepted)
            await self._store.record_rejections(rejected)
        except DATABASE_ERRORS as err:
            log.error("ingest.database_failed", error=repr(err))
            raise Unavailable(f"database unavailable: {err}") from err
        if failure is not None:
            metrics.PRODUCE_FAILURES.inc(sum(1 for r in results if r is None))
            log.error("ingest.produce_failed", error=repr(failure))
            raise Unavailable(f"Kafka did not acknowledge: {failure}")
        done = [r for r in results if r is not None]
        assert len(done) == len(results), "every event has an outcome once nothing failed"
        _count(done)
        return done

    async def Submit(
        self, request: api_pb2.SubmitRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.SubmitResponse:
        """One event: accepted, duplicate, INVALID_ARGUMENT, ALREADY_EXISTS or UNAVAILABLE."""
        start = time.perf_counter()
        try:
            submitter = await self._submitter(context)
            try:
                (result,) = await self.process([request], submitter)
            except Unavailable as err:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
            if result.outcome == "invalid":
                await context.abort_with_status(bad_request(result.errors))
            if result.outcome == "forbidden":
                await context.abort_with_status(
                    bad_request(result.errors, code=grpc.StatusCode.PERMISSION_DENIED)
                )
            if result.outcome == "conflict":
                await context.abort(grpc.StatusCode.ALREADY_EXISTS, _joined(result.errors))
            return api_pb2.SubmitResponse(
                event_id=result.event_id, duplicate=result.outcome == "duplicate"
            )
        finally:
            metrics.LATENCY.labels("Submit").observe(time.perf_counter() - start)

    async def SubmitBatch(
        self,
        request_iterator: AsyncIterator[api_pb2.SubmitRequest],
        context: grpc.aio.ServicerContext,
    ) -> api_pb2.SubmitBatchResponse:
        """A stream of events, handled in order, CHUNK at a time; rejections listed by index."""
        start = time.perf_counter()
        response = api_pb2.SubmitBatchResponse()
        chunk: list[api_pb2.SubmitRequest] = []
        base = 0
        try:
            submitter = await self._submitter(context)
            try:
                async for request in request_iterator:
                    if base + len(chunk) >= MAX_BATCH:
                        await context.abort(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"at most {MAX_BATCH} events per SubmitBatch call"
                            f" (the first {base} were processed)",
                        )
                    chunk.append(request)
                    if len(chunk) == CHUNK:
                        async with self._admission.chunk(context, len(chunk)):
                            self._add(response, base, await self.process(chunk, submitter))
                        base, chunk = base + len(chunk), []
                if chunk:
                    async with self._admission.chunk(context, len(chunk)):
                        self._add(response, base, await self.process(chunk, submitter))
            except Unavailable as err:
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
            return response
        finally:
            metrics.LATENCY.labels("SubmitBatch").observe(time.perf_counter() - start)

    async def _submitter(self, context: grpc.aio.ServicerContext) -> Submitter:
        """The caller's principal and binding (the interceptor let only writers and people's
        sessions through; a person's binding comes from its role)."""
        person = current_principal.get()
        if person is not None:
            submitter = None if self._sessions is None else self._sessions.of(person)
            if submitter is None:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                    f"a {person.role.value} submits nothing")  # fmt: skip
            assert submitter is not None  # abort raises
            return submitter
        submitter = self._submitters.of(context.invocation_metadata())
        if submitter is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "a writer's bearer token is required"
            )
        assert submitter is not None  # abort raises
        return submitter

    @staticmethod
    def _add(response: api_pb2.SubmitBatchResponse, base: int, results: list[Result]) -> None:
        for index, r in enumerate(results, start=base):
            if r.outcome == "accepted":
                response.accepted += 1
            elif r.outcome == "duplicate":
                response.duplicates += 1
            else:
                response.rejected.append(
                    api_pb2.Rejection(
                        index=index,
                        event_id=r.event_id,
                        errors=[events_pb2.FieldError(field=e.field, message=e.message)
                                for e in r.errors],
                    )
                )  # fmt: skip


def _count(results: Sequence[Result]) -> None:
    for r in results:
        if r.outcome == "accepted":
            metrics.ACCEPTED.inc()
        elif r.outcome == "duplicate":
            metrics.DUPLICATES.inc()
        elif r.outcome == "forbidden":
            for e in r.errors:
                metrics.FORBIDDEN_EVENTS.labels(metrics.binding_label(e.field)).inc()
        else:
            for e in r.errors:
                metrics.REJECTED.labels(metrics.field_label(e.field)).inc()


def _forbidden(submitter: Submitter, refusals: Sequence[FieldError]) -> None:
    """Log an event refused for its submitter's binding (never the token)."""
    log.warning("ingest.event_forbidden", principal=submitter.principal,
                fields=[e.field for e in refusals])  # fmt: skip


def _joined(errors: Sequence[FieldError]) -> str:
    return "; ".join(str(e) for e in errors)
