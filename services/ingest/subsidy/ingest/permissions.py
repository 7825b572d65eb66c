"""Who is submitting: the caller's principal and binding, what it may not submit, and the
provenance an accepted event carries."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from subsidy.domain.events import EnterpriseEvent, FieldError
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.auth import WRITER, Credentials, bearer_token
from subsidy.infra.principals import WriterGrant

# The metadata a client declares its channel in. Declared, not proven: the principal is what
# the credential proves; the channel says which of its tools sent the event.
CHANNEL_HEADER = "x-subsidy-channel"
GRPC_API = "grpc-api"
FEED_WATCHER = "feed-watcher"
CLI_FILE = "cli-file"
CHANNELS: Mapping[str, epb.SubmissionChannel.ValueType] = {
    GRPC_API: epb.GRPC_API,
    FEED_WATCHER: epb.FEED_WATCHER,
    CLI_FILE: epb.CLI_FILE,
}


@dataclass(frozen=True, slots=True)
class Submitter:
    """The principal behind a call, its binding and the channel it declared."""

    principal: str
    grant: WriterGrant
    channel: epb.SubmissionChannel.ValueType = epb.GRPC_API

    def refusals(self, event: EnterpriseEvent) -> tuple[FieldError, ...]:
        """What this principal may not submit about `event`: its payload type, its source."""
        errors = []
        if event.payload_type not in self.grant.event_types:
            errors.append(
                FieldError(
                    event.payload_type,
                    f"permission denied: {self.principal} may not submit {event.payload_type}"
                    f" events (bound to {', '.join(sorted(self.grant.event_types))})",
                )
            )
        if event.source not in self.grant.sources:
            errors.append(
                FieldError(
                    "source",
                    f"permission denied: {self.principal} may not claim this source"
                    f" (bound to {', '.join(sorted(self.grant.sources))})",
                )
            )
        return tuple(errors)

    def provenance(self, at: datetime | None = None) -> epb.Provenance:
        """Who submitted, how and when: set on every event this call gets accepted."""
        return epb.Provenance(
            principal=self.principal,
            channel=self.channel,
            accepted_at=(at or datetime.now(UTC)).isoformat(timespec="seconds"),
        )


class Submitters:
    """The writers' bindings, looked up by the token a call presents."""

    def __init__(self, writers: Mapping[str, WriterGrant]) -> None:
        self._credentials = Credentials({WRITER: writers})
        self._writers = dict(writers)

    def of(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Submitter | None:
        """The submitter of a call (None: no writer's token, which the interceptor refused)."""
        token = bearer_token(metadata)
        caller = None if token is None else self._credentials.caller_of(token)
        if caller is None or caller.principal is None:
            return None
        channel = epb.GRPC_API
        for key, value in metadata or ():
            if key == CHANNEL_HEADER and isinstance(value, str):
                channel = CHANNELS.get(value, epb.GRPC_API)
        return Submitter(caller.principal, self._writers[caller.principal], channel)
