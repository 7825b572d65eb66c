"""Bearer tokens with roles for the gRPC APIs: which role may call which service, and refusals."""

import hashlib
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Annotated

import grpc
import structlog
from pydantic import AfterValidator, SecretStr

log = structlog.get_logger(__name__)

# The roles. Writers submit events (IngestService); auditors read the ledger (LedgerService).
# A token has exactly one role, so a leaked auditor token cannot write and a writer token
# cannot read the ledger.
WRITER = "writer"
AUDITOR = "auditor"

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _check_tokens(value: SecretStr) -> SecretStr:
    tokens = value.get_secret_value().split(",")
    if not all(t.strip() for t in tokens):
        raise ValueError("comma-separated bearer tokens, none of them empty")
    if any(re.search(r"\s", t.strip()) for t in tokens):
        raise ValueError("a bearer token cannot contain whitespace")
    return value


def _check_digests(value: str) -> str:
    if value.strip() and not all(_DIGEST.fullmatch(d.strip()) for d in value.split(",")):
        raise ValueError(
            "comma-separated SHA-256 digests of bearer tokens, 64 lower-case hex digits each"
            " (`printf %s TOKEN | sha256sum`)"
        )
    return value


# A settings field of comma-separated tokens (several, so that a new token can be rolled out
# before the old one is withdrawn). Declare it without a default: a server never starts open.
BearerTokens = Annotated[SecretStr, AfterValidator(_check_tokens)]
# A settings field of SHA-256 digests of another role's tokens (empty: none known).
TokenDigests = Annotated[str, AfterValidator(_check_digests)]


def token_set(value: SecretStr) -> frozenset[str]:
    """The tokens of a BearerTokens field."""
    return frozenset(t.strip() for t in value.get_secret_value().split(","))


def digest_set(value: str) -> frozenset[str]:
    """The digests of a TokenDigests field."""
    return frozenset(d.strip() for d in value.split(",") if d.strip())


def token_digest(token: str) -> str:
    """SHA-256 of the token, hex: how a server recognises a token it may not hold."""
    return hashlib.sha256(token.encode()).hexdigest()


class Credentials:
    """The role of every token a server knows. A server gets the tokens of the role it serves
    and, optionally, only the digests of other roles' tokens: enough to answer a caller with
    the wrong role PERMISSION_DENIED (not UNAUTHENTICATED), never enough to act as that role.

    Lookups are by digest: timing can at most reveal something about a digest, and a digest
    is no credential (finding a token from it means inverting SHA-256)."""

    def __init__(
        self,
        tokens: Mapping[str, Collection[str]] | None = None,
        digests: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._roles: dict[str, str] = {}
        for role, known in (tokens or {}).items():
            for token in known:
                self._add(token_digest(token), role)
        for role, known in (digests or {}).items():
            for digest in known:
                self._add(digest, role)

    def _add(self, digest: str, role: str) -> None:
        if self._roles.setdefault(digest, role) != role:
            raise ValueError(
                f"one token is configured for two roles ({self._roles[digest]} and {role}):"
                " roles must use different tokens"
            )

    def role_of(self, token: str) -> str | None:
        """The token's role, or None for a token nobody issued."""
        return self._roles.get(token_digest(token))


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    """The token of the first `authorization: Bearer <token>` header, None if absent or
    malformed."""
    for key, value in metadata or ():
        if key != "authorization" or not isinstance(value, str):
            continue
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()
    return None


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Guards the services named in `grants` (full service name → the role that may call it):
    no token or an unknown one is UNAUTHENTICATED, a known token of another role is
    PERMISSION_DENIED. Services not named (health, reflection) stay open."""

    def __init__(
        self,
        credentials: Credentials,
        grants: Mapping[str, str],
        on_refused: Callable[[grpc.StatusCode], None] | None = None,
    ) -> None:
        self._credentials = credentials
        self._grants = {f"/{service}/": role for service, role in grants.items()}
        self._on_refused = on_refused

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Pass authorised calls on; answer the others with a refusal of the same shape."""
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        needed = self._grants.get(method[: method.rfind("/") + 1])
        if handler is None or needed is None:
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        role = None if token is None else self._credentials.role_of(token)
        if role == needed:
            return handler
        if role is None:
            code = grpc.StatusCode.UNAUTHENTICATED
            message = "a valid bearer token is required (metadata `authorization: Bearer <token>`)"
        else:
            code = grpc.StatusCode.PERMISSION_DENIED
            message = f"a {role} token may not call this service (it needs a {needed} token)"
        log.warning("auth.refused", method=method, code=code.name, role=role)
        if self._on_refused is not None:
            self._on_refused(code)
        return _refusal(handler, code, message)


def _refusal(
    handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call."""

    async def refuse_unary(request: object, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    async def refuse_stream(requests: object, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse_stream, **options)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse_stream, **options)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse_unary, **options)
    return grpc.unary_unary_rpc_method_handler(refuse_unary, **options)
