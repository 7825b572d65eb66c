"""Page tokens of the ledger API's keyset pagination: a cursor bound to what the request asked."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

# A JSON scalar: what a token's key may hold, so it compares equal after a round trip.
KeyValue: TypeAlias = str | int | bool | None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The cursor's own fields; a key naming one of them would overwrite it.
_RESERVED = frozenset({"v", "at", "id"})


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last row of a page, by its sort key: the next page starts after (at, id)."""

    at: datetime
    id: str


class BadPageToken(ValueError):
    """A page token this API did not issue, or issued for another request."""


def encode(cursor: Cursor, key: dict[str, KeyValue]) -> str:
    """Opaque to clients (URL-safe base64 of a small JSON document); not a secret: it only says
    where to resume and for which request (`key`: what it filtered by), and a caller may read
    every page anyway."""
    if _RESERVED & key.keys():
        raise ValueError(f"a page token's key must not name {sorted(_RESERVED & key.keys())}")
    # The key's fields beside the cursor's (the order of fields is no part of the format).
    body = {"v": 1, **key, "at": (cursor.at - _EPOCH) // _MICROSECOND, "id": cursor.id}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, key: dict[str, KeyValue], other_request: str) -> Cursor:
    """The cursor in a page token; BadPageToken if it is not one of ours, or (saying
    `other_request`) if it was issued with another key."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(body, dict) or body.get("v") != 1:
            raise ValueError("unknown version")
        at, row_id = body["at"], body["id"]
        if type(at) is not int or not isinstance(row_id, str) or not row_id:
            raise ValueError("malformed")
        cursor = Cursor(_EPOCH + at * _MICROSECOND, row_id)
        issued = {name: body[name] for name in key}
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
        raise BadPageToken("not a page token of this API") from None
    if issued != key:
        raise BadPageToken(other_request)
    return cursor
