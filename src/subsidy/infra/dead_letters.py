"""The one way a stage sets a record aside: a DeadLetter carrying the record's own bytes."""

from collections.abc import Sequence

from subsidy.events.v1 import events_pb2 as epb


def letter_id(topic: str, partition: int, offset: int) -> str:
    """A dead letter's CloudEvents id: where the record it sets aside was read (a redelivery
    of that record is the same letter)."""
    return f"dead-letter/{topic}/{partition}/{offset}"


def dead_letter(
    *,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    error: str,
    event_id: str | None = None,
    field_errors: Sequence[tuple[str, str]] = (),
) -> epb.DeadLetter:
    """Where the record was read, its bytes (so it can be replayed once fixed), and why it
    was refused: a message, and per field when the stage knows which fields."""
    return epb.DeadLetter(
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key or b"",
        value=value or b"",
        error=error,
        field_errors=[epb.FieldError(field=f, message=m) for f, m in field_errors],
        event_id=event_id or "",
    )
