"""INVALID_ARGUMENT (or PERMISSION_DENIED) with a BadRequest naming each bad field."""

# A google.rpc.BadRequest; made and read here.

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from subsidy.domain.events import FieldError

# The status travels in trailers, which clients refuse at random beyond 8 KB (and always beyond
# 16 KB): an event with many bad fields must still get its INVALID_ARGUMENT through.
MAX_MESSAGE = 1_000
MAX_DESCRIPTION = 200
MAX_DETAILS = 4_000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bad_request(
    errors: Sequence[FieldError],
    message: str | None = None,
    code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT,
) -> grpc.Status:
    """The status to abort with: one field violation per bad field, named by its JSON path,
    as many as fit in the trailers; the message defaults to the errors joined as
    `field: message; …`. `code`: PERMISSION_DENIED for fields the caller may not submit."""
    bad = error_details_pb2.BadRequest()
    for e in errors:
        violation = bad.field_violations.add(
            field=e.field, description=_cut(e.message, MAX_DESCRIPTION)
        )
        if bad.ByteSize() > MAX_DETAILS:
            bad.field_violations.remove(violation)
            break
    detail = any_pb2.Any()
    detail.Pack(bad)
    text = _cut(message if message is not None else "; ".join(str(e) for e in errors), MAX_MESSAGE)
    status = status_pb2.Status(code=code.value[0], message=text, details=[detail])
    return rpc_status.to_status(status)


def field_violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    """(field, description) of each BadRequest violation an error carries (none: [])."""
    status = rpc_status.from_call(err)
    found: list[tuple[str, str]] = []
    for detail in status.details if status is not None else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [(v.field, v.description) for v in bad.field_violations]
    return found
