"""Errors the portal answers itself, in the shape the gRPC services answer theirs."""

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.rpc import error_details_pb2  # type: ignore[import-untyped]


def field_error(field: str, message: str, code: Code = Code.INVALID_ARGUMENT) -> ConnectError:
    """`code` with a google.rpc.BadRequest naming the request field (its JSON name)."""
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
    bad = error_details_pb2.BadRequest(field_violations=[violation])
    return ConnectError(code, f"{field}: {message}", [bad])
