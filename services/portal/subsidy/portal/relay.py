"""The platform's gRPC services over HTTP/JSON, each unary method relayed to its gRPC server."""

# Each one relayed as it is, to the gRPC server that implements it, with the caller's credential.
#
# Relaying rather than serving again keeps one implementation and one authorisation per method: the
# gRPC server decides who may call what, for HTTP callers as for gRPC ones, and answers the same
# errors (a google.rpc.BadRequest's field violations reach the HTTP caller as JSON).

import re
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from google.protobuf import symbol_database
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from subsidy.identity.sessions import looks_like_session

# Loaded so that the JSON of an error carries the details' `debug` form (field violations).
_DETAIL_TYPES = (error_details_pb2.BadRequest, error_details_pb2.ErrorInfo)

# Headers passed on to the gRPC server: the credential, and which tool sent an event.
FORWARDED_HEADERS = ("authorization",)
CHANNEL_HEADER = ("x-subsidy-channel", "PORTAL")

# A call the caller set no deadline for gets this one, and none gets more: a slow backend must
# not hold a request for ever, whatever the caller asked.
DEFAULT_TIMEOUT_S = 15.0
MAX_TIMEOUT_S = 30.0

_GRPC_TO_CONNECT = {
    grpc.StatusCode.CANCELLED: Code.CANCELED,
    **{s: Code[s.name] for s in grpc.StatusCode if s.name in Code.__members__},
}

Handler = Callable[[Message, RequestContext[Any, Any]], Awaitable[Message]]


def snake(name: str) -> str:
    """A method's name as the Connect code generator spells it (WhoAmI → who_am_i)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _message_class(descriptor: Any) -> type[Message]:
    cls: type[Message] = symbol_database.Default().GetSymbol(descriptor.full_name)
    return cls


def connect_error(err: grpc.aio.AioRpcError) -> ConnectError:
    """The gRPC error as a Connect error: the same code, message and details."""
    status = rpc_status.from_call(err)
    details: list[Message] = list(status.details) if status is not None else []
    code = _GRPC_TO_CONNECT.get(err.code(), Code.UNKNOWN)
    return ConnectError(code, err.details() or err.code().name, details)


def _metadata(ctx: RequestContext[Any, Any]) -> list[tuple[str, str]]:
    """The caller's session to pass on. Only people's sessions: the portal faces the Internet,
    and a machine's static token (a feed's, the auditor's) belongs on the gRPC ports that the
    network policies keep inside; through here it is refused as no credential at all."""
    headers = ctx.request_headers()
    found = [(name, headers[name]) for name in FORWARDED_HEADERS if name in headers]
    for _, value in found:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not looks_like_session(token.strip()):
            raise ConnectError(
                Code.UNAUTHENTICATED,
                "the portal takes people's session tokens (IdentityService/CreateSession);"
                " machines call the gRPC APIs",
            )
    return [*found, CHANNEL_HEADER]


def _unary(channel: grpc.aio.Channel, method: MethodDescriptor) -> Handler:
    request_cls = _message_class(method.input_type)
    response_cls = _message_class(method.output_type)
    call = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )

    async def relay(request: Message, ctx: RequestContext[Any, Any]) -> Message:
        timeout_ms = ctx.timeout_ms()
        asked = DEFAULT_TIMEOUT_S if timeout_ms is None else timeout_ms / 1000
        timeout = min(asked, MAX_TIMEOUT_S)
        try:
            response: Message = await call(request, metadata=_metadata(ctx), timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise connect_error(err) from None
        return response

    return relay


def _not_relayed(method: MethodDescriptor) -> Handler:
    async def refuse(request: object, ctx: RequestContext[Any, Any]) -> Message:
        raise ConnectError(
            Code.UNIMPLEMENTED,
            f"{method.name} streams: call it over gRPC (the HTTP/JSON API relays unary methods)",
        )

    return refuse


class Relayed:
    """A service implementation for the generated Connect application: every unary method
    of `service` relayed over `channel`; streaming methods answer UNIMPLEMENTED."""

    def __init__(self, service: ServiceDescriptor, channel: grpc.aio.Channel) -> None:
        self._handlers: dict[str, Handler] = {}
        for method in service.methods:
            streams = method.client_streaming or method.server_streaming
            handler = _not_relayed(method) if streams else _unary(channel, method)
            self._handlers[snake(method.name)] = handler

    def __getattr__(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise AttributeError(name) from None


def relayed(service: ServiceDescriptor, channel: grpc.aio.Channel) -> Any:
    """`Relayed`, typed as the generated application expects its service (the methods are
    found by name at run time, which the generated Protocol cannot know)."""
    return Relayed(service, channel)
