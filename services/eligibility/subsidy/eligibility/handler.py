"""One input message in, one record out: an Evaluation for the ledger or a DeadLetter."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from subsidy.contract.codec import decode_event, evaluation_to_proto
from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import FieldError, InvalidEvent
from subsidy.infra.dead_letters import dead_letter, letter_id
from subsidy.infra.records import Framer, unframe

log = structlog.get_logger(__name__)

STAGE = "eligibility"

# A dead letter carries the message's bytes; one near the broker's limit (1 MB) would make a
# letter over it, which no retry can publish, and the worker would stall on it. Beyond these
# sizes only a prefix is carried (the letter names topic, partition and offset of the whole).
MAX_CARRIED_VALUE = 256 * 1024
MAX_CARRIED_KEY = 1024

# Reasons a message is set aside (the `reason` label of the rejections metric).
INVALID_EVENT = "invalid_event"
NO_VALUE = "no_value"
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record as it came off the input topic, bytes untouched."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message went to the dead-letter topic."""

    reason: str
    error: str
    errors: tuple[FieldError, ...]
    event_id: str | None


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """The one record to publish (topic, key, value), and what it says, for the metrics."""

    topic: str
    key: bytes | None
    value: bytes  # in the schema registry's wire format
    headers: list[tuple[str, bytes]]  # CloudEvents
    payload_type: str
    rule_ids: tuple[str, ...] = ()
    rejection: Rejection | None = None

    @property
    def record(self) -> tuple[str, bytes | None, bytes]:
        """(topic, key, value)."""
        return self.topic, self.key, self.value


def handle_message(
    message: Incoming,
    catalog: Catalog,
    *,
    output_topic: str,
    dead_letter_topic: str,
    framers: Mapping[str, Framer],
) -> OutgoingRecord:
    """Decode, validate and evaluate one event. A valid event (ledger payloads included, with
    no entitlements) becomes an Evaluation keyed by its enterpriseId; anything else becomes a
    DeadLetter carrying the original bytes. Never raises for a bad message: one bad message
    must not stop the others."""
    letters = (dead_letter_topic, framers[dead_letter_topic])
    if message.value is None:
        return _dead_letter(
            message,
            letters,
            Rejection(NO_VALUE, "no value (tombstone)",
                      (FieldError("event", "no value (tombstone)"),), None),
        )  # fmt: skip
    try:
        payload = unframe(message.value)[1]
        event = decode_event(payload)
    except InvalidEvent as err:
        return _dead_letter(
            message,
            letters,
            Rejection(INVALID_EVENT, str(err), tuple(err.errors), err.event_id),
        )
    except ValueError as err:
        error = FieldError("event", str(err))
        return _dead_letter(message, letters, Rejection(INVALID_EVENT, str(error), (error,), None))
    except Exception as exc:
        # decode_event turns what it knows into InvalidEvent; anything else it lets through
        # is still the message's fault, and still must not stop the stream.
        error = FieldError("event", f"cannot decode: {exc!r}")
        return _dead_letter(message, letters, Rejection(INVALID_EVENT, str(error), (error,), None))
    try:
        evaluation = evaluate(event, catalog)
        value = evaluation_to_proto(evaluation, payload).SerializeToString()
    except Exception as exc:
        # A bug, not the producer's fault: set the event aside with its bytes so it can be
        # replayed once fixed, rather than block every enterprise behind it.
        log.exception("eligibility.evaluate_failed", event_id=event.event_id, topic=message.topic,
                      partition=message.partition, offset=message.offset)  # fmt: skip
        return _dead_letter(
            message,
            letters,
            Rejection(INTERNAL_ERROR, f"evaluation failed: {exc!r}", (), event.event_id),
        )
    framer = framers[output_topic]
    # Named by what it says, not by its input: a correction re-sends the event id, and the
    # same event evaluated again under another catalog is another evaluation; a redelivery
    # evaluated alike is the same record and keeps its id.
    record_id = f"evaluation/{event.event_id}/{hashlib.sha256(value).hexdigest()[:16]}"
    return OutgoingRecord(
        topic=output_topic,
        # By enterprise, so the ledger sees one enterprise's events in order.
        key=event.enterprise_id.encode(),
        value=framer.frame(value),
        headers=framer.headers(record_id, subject=event.enterprise_id),
        payload_type=event.payload_type,
        rule_ids=tuple(e.rule_id for e in evaluation.entitlements),
    )


def _dead_letter(
    message: Incoming, letters: tuple[str, Framer], rejection: Rejection
) -> OutgoingRecord:
    key, value = message.key or b"", message.value or b""
    error = rejection.error
    if len(value) > MAX_CARRIED_VALUE or len(key) > MAX_CARRIED_KEY:
        error += (f" (carries the first {MAX_CARRIED_KEY} bytes of the {len(key)}-byte key"
                  f" and {MAX_CARRIED_VALUE} of the {len(value)}-byte value)")  # fmt: skip
        key, value = key[:MAX_CARRIED_KEY], value[:MAX_CARRIED_VALUE]
    letter = dead_letter(
        stage=STAGE,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key,
        value=value,
        error=error,
        field_errors=[(e.field, e.message) for e in rejection.errors],
        event_id=rejection.event_id,
    )
    log.warning("eligibility.dead_letter", reason=rejection.reason, error=rejection.error,
                event_id=rejection.event_id, topic=message.topic, partition=message.partition,
                offset=message.offset)  # fmt: skip
    record_id = letter_id(message.topic, message.partition, message.offset)
    topic, framer = letters
    return OutgoingRecord(
        topic=topic,
        key=key if message.key is not None else None,
        value=framer.frame(letter.SerializeToString()),
        headers=framer.headers(record_id),
        payload_type="invalid",
        rejection=rejection,
    )
