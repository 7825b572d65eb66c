"""Bearer tokens with roles and principals for the gRPC APIs."""

# Which role may call which service, who called, and refusals; people's session tokens checked
# against the access matrix, their principal set for the call.

import hashlib
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

import grpc
import structlog
from pydantic import AfterValidator

from subsidy.identity.principal import Principal, Role, current_principal
from subsidy.identity.sessions import (
    SessionCheckUnavailable,
    SessionGate,
    SessionRejected,
    looks_like_session,
)
from subsidy.infra.principals import Grant

log = structlog.get_logger(__name__)

# The roles. Writers submit events (IngestService); auditors read the ledger (LedgerService).
# A token has exactly one role, so a leaked auditor token cannot write and a writer token
# cannot read the ledger.
WRITER = "writer"
AUDITOR = "auditor"

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _check_digests(value: str) -> str:
    if value.strip() and not all(_DIGEST.fullmatch(d.strip()) for d in value.split(",")):
        raise ValueError(
            "comma-separated SHA-256 digests of bearer tokens, 64 lower-case hex digits each"
            " (`printf %s TOKEN | sha256sum`)"
        )
    return value


# A settings field of SHA-256 digests of another role's tokens (empty: none known).
TokenDigests = Annotated[str, AfterValidator(_check_digests)]


def digest_set(value: str) -> frozenset[str]:
    """The digests of a TokenDigests field."""
    return frozenset(d.strip() for d in value.split(",") if d.strip())


def token_digest(token: str) -> str:
    """SHA-256 of the token, hex: how a server recognises a token it may not hold."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who presented a token: its role, and the principal it was issued to (None for a token
    this server knows only as another role's digest)."""

    role: str
    principal: str | None


def grant_digests(grant: Grant) -> frozenset[str]:
    """The digests of every token of a principal, given as a token or as a digest."""
    return frozenset(token_digest(t.get_secret_value()) for t in grant.tokens) | frozenset(
        grant.token_sha256
    )


class Credentials:
    """The role and principal of every token a server knows. A server gets the principals of
    the role it serves and, optionally, only the digests of other roles' tokens: enough to
    answer a caller with the wrong role PERMISSION_DENIED (not UNAUTHENTICATED), never enough
    to act as that role.

    Lookups are by digest: timing can at most reveal something about a digest, and a digest
    is no credential (finding a token from it means inverting SHA-256)."""

    def __init__(
        self,
        principals: Mapping[str, Mapping[str, Grant]] | None = None,
        digests: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._callers: dict[str, Caller] = {}
        for role, grants in (principals or {}).items():
            for principal, grant in grants.items():
                for digest in grant_digests(grant):
                    self._add(digest, Caller(role, principal))
        for role, known in (digests or {}).items():
            for digest in known:
                self._add(digest, Caller(role, None))

    def _add(self, digest: str, caller: Caller) -> None:
        prior = self._callers.setdefault(digest, caller)
        if prior.role != caller.role:
            raise ValueError(
                f"one token is configured for two roles ({prior.role} and {caller.role}):"
                " roles must use different tokens"
            )
        if prior.principal != caller.principal and None not in (prior.principal, caller.principal):
            raise ValueError(
                f"one token is configured for two principals ({prior.principal} and"
                f" {caller.principal}): each principal needs its own tokens"
            )

    def caller_of(self, token: str) -> Caller | None:
        """Who the token was issued to, or None for a token nobody issued."""
        return self._callers.get(token_digest(token))

    def role_of(self, token: str) -> str | None:
        """The token's role, or None for a token nobody issued."""
        caller = self.caller_of(token)
        return None if caller is None else caller.role


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
    PERMISSION_DENIED. Services not named (health, reflection) stay open.

    With a SessionGate, a person's session token is let in too: an expired, revoked or
    invalid session is UNAUTHENTICATED (saying which), a role the access matrix (full method
    name → roles) does not give the method is PERMISSION_DENIED, and the handler runs with
    `current_principal` set to the session's principal."""

    def __init__(
        self,
        credentials: Credentials,
        grants: Mapping[str, str],
        on_refused: Callable[[grpc.StatusCode], None] | None = None,
        logged_roles: Collection[str] = (AUDITOR,),
        sessions: SessionGate | None = None,
        access: Mapping[str, frozenset[Role]] | None = None,
    ) -> None:
        self._credentials = credentials
        self._grants = {f"/{service}/": role for service, role in grants.items()}
        self._on_refused = on_refused
        # Every call of these roles is logged with its principal: an auditor's read of
        # enterprise data leaves a trace naming who read what (never the token).
        self._logged_roles = frozenset(logged_roles)
        self._sessions = sessions
        self._access = access or {}

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
        caller = None if token is None else self._credentials.caller_of(token)
        if caller is None and token is not None and self._sessions and looks_like_session(token):
            return await self._session(handler, method, token)
        role = None if caller is None else caller.role
        if caller is not None and role == needed:
            if role in self._logged_roles:
                return _logged(handler, method, caller.principal)
            return handler
        if role is None:
            code = grpc.StatusCode.UNAUTHENTICATED
            message = "a valid bearer token is required (metadata `authorization: Bearer <token>`)"
        else:
            code = grpc.StatusCode.PERMISSION_DENIED
            message = f"a {role} token may not call this service (it needs a {needed} token)"
        return self._refuse(handler, method, code, message, role)

    async def _session(
        self, handler: grpc.RpcMethodHandler, method: str, token: str
    ) -> grpc.RpcMethodHandler:
        """A person's session: verified, its credential active, its role allowed `method`."""
        assert self._sessions is not None
        try:
            principal = await self._sessions.principal_of(token)
        except SessionRejected as err:
            return self._refuse(handler, method, grpc.StatusCode.UNAUTHENTICATED,
                                f"session {err.reason}: sign in again", "session")  # fmt: skip
        except SessionCheckUnavailable as err:
            log.error("auth.session_check_failed", method=method, error=str(err))
            return _refusal(handler, grpc.StatusCode.UNAVAILABLE,
                            "the credential check is unavailable: retry")  # fmt: skip
        if principal.role not in self._access.get(method, frozenset()):
            message = f"a {principal.role.value} may not call {method.rsplit('/', 1)[-1]}"
            return self._refuse(handler, method, grpc.StatusCode.PERMISSION_DENIED, message,
                                principal.role.value, principal.name)  # fmt: skip
        return _logged(handler, method, principal.name, principal)

    def _refuse(
        self,
        handler: grpc.RpcMethodHandler,
        method: str,
        code: grpc.StatusCode,
        message: str,
        role: str | None,
        principal: str | None = None,
    ) -> grpc.RpcMethodHandler:
        log.warning("auth.refused", method=method, code=code.name, role=role, principal=principal)
        if self._on_refused is not None:
            self._on_refused(code)
        return _refusal(handler, code, message)


# Request fields that name whose data a call reads: logged with the reader's principal.
_SUBJECT_FIELDS = ("enterprise_id", "entitlement_id", "rule_id", "year", "group_by")


# An id is logged up to this many characters: a hostile caller's megabyte id is refused by
# the API, and must not fill the log on the way.
_LOGGED_ID = 80


def _subject(request: object) -> dict[str, object]:
    """The identifying fields a request sets (protobuf messages only), long ones cut."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None:
        return {}
    found: dict[str, object] = {}
    for name in _SUBJECT_FIELDS:
        if name in descriptor.fields_by_name and (value := getattr(request, name)):
            if isinstance(value, str) and len(value) > _LOGGED_ID:
                value = f"{value[:_LOGGED_ID]}… ({len(value)} characters)"
            found[name] = value
    return found


def _logged(
    handler: grpc.RpcMethodHandler,
    method: str,
    principal: str | None,
    person: Principal | None = None,
) -> grpc.RpcMethodHandler:
    """`handler`, logging each call with the caller's principal and what it asked for; with a
    person's principal, `current_principal` is set to it while the handler runs."""
    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def logged(request: object, context: grpc.aio.ServicerContext) -> object:
            log.info("api.read", method=method, principal=principal, **_subject(request))
            reset = current_principal.set(person)
            try:
                return await unary(request, context)
            finally:
                current_principal.reset(reset)

        return grpc.unary_unary_rpc_method_handler(logged, **options)
    log.info("api.read", method=method, principal=principal)
    if person is None:
        return handler
    if handler.stream_unary is not None:
        streamed = handler.stream_unary

        async def as_person(requests: object, context: grpc.aio.ServicerContext) -> object:
            reset = current_principal.set(person)
            try:
                return await streamed(requests, context)
            finally:
                current_principal.reset(reset)

        return grpc.stream_unary_rpc_method_handler(as_person, **options)
    # No service guarded for people streams its answers: refuse rather than run unbound.
    return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, "not open to sessions")


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
