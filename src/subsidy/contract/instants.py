"""Instants on the wire: datetime ↔ google.protobuf.Timestamp, and reading the old strings."""

# The contract is moving its instants from ISO-8601 strings (`decided_at`, deprecated) to
# google.protobuf.Timestamp fields beside them (`decided_time`); docs/contract.md, Instants. Until
# v2.0.0 every writer fills both, and every reader takes the Timestamp when it is set and falls back
# to the string, so messages and rows written by an older release still read.

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(moment: datetime) -> Timestamp:
    """`moment` as a Timestamp (an instant: UTC seconds and nanos, no offset kept). A naive
    datetime is refused: FromDatetime would take it for UTC and silently move a Beijing
    wall-clock time by eight hours."""
    if moment.utcoffset() is None:
        raise ValueError(f"an instant needs its UTC offset: {moment.isoformat()}")
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def parse_instant(text: str) -> datetime:
    """An old ISO-8601 string with its offset, as an aware datetime in UTC (ValueError if it
    does not parse or has no offset: every writer wrote one, so none is guessed)."""
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"an instant without its UTC offset: {text!r}")
    return moment.astimezone(UTC)


def instant(message: Message, time_field: str, string_field: str) -> datetime | None:
    """The instant `message` gives, in UTC: its Timestamp `time_field` when set, else its
    deprecated string `string_field` (a message an older release wrote); None when neither
    is. A string that does not parse raises ValueError, as parse_instant."""
    if message.HasField(time_field):
        stamp: Timestamp = getattr(message, time_field)
        return stamp.ToDatetime(tzinfo=UTC)
    text: str = getattr(message, string_field)
    return parse_instant(text) if text else None
