"""Who is submitting: the caller's principal and binding, what it may not submit, its provenance."""

# A machine's binding comes from INGEST_CREDENTIALS, a person's from the role of its session; the
# provenance is what an accepted event carries.

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import timestamp
from subsidy.domain.beijing import in_beijing
from subsidy.domain.catalog import Catalog
from subsidy.domain.events import EnterpriseEvent, FieldError
from subsidy.events.v1 import events_pb2 as epb
from subsidy.identity.access import ACCESS
from subsidy.identity.principal import Principal, Role
from subsidy.identity.sessions import SessionGate
from subsidy.infra.auth import AUDITOR, WRITER, BearerAuthInterceptor, Credentials, bearer_token
from subsidy.infra.principals import WriterGrant
from subsidy.ingest import metrics

SERVICE_NAME = api_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

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
# Whatever a client declares, a person's session submits through the portal.
SESSION_CHANNEL = epb.PORTAL


# A person's binding by role: what its session may submit through the portal. Auditors and
# admins submit nothing, and nobody an eventRetracted: a person puts a decision right by a new
# decision or an appeal, never by rewriting history (nor by a correction, see Submitter).
ROLE_EVENT_TYPES: Mapping[Role, frozenset[str]] = {
    Role.ENTERPRISE: frozenset({"appealFiled", "payeeAccountRegistered", "objectionFiled"}),
    Role.REVIEWER: frozenset({"reviewDecided"}),
    Role.APPROVER: frozenset({"reviewDecided", "appealDecided"}),
}
# The payloads that decide a rule's case: a bureau's people decide only its own rules'.
RULED_PAYLOADS = ("reviewDecided", "appealDecided")
# A person's eventId: `portal-` and a random UUID (version 4, lower case), as the pages make
# it. Idempotency is by eventId across every source, so an id a person chose could be one a
# feed will send later, and the feed's real event would then be refused as a conflict.
PERSON_EVENT_ID = re.compile(
    r"portal-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


@dataclass(frozen=True, slots=True)
class Submitter:
    """The principal behind a call, its binding and the channel it declared. A person's
    binding (`person`) adds the enterprise it may submit for, or the rules it may decide."""

    principal: str
    event_types: frozenset[str]
    sources: frozenset[str]
    channel: epb.SubmissionChannel.ValueType = epb.GRPC_API
    enterprise_id: str | None = None
    rules: frozenset[str] | None = None
    bureau: str | None = None
    person: bool = False
    # A person's clock (aware): its events are dated today in Beijing.
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    def of_grant(
        cls, principal: str, grant: WriterGrant, channel: epb.SubmissionChannel.ValueType
    ) -> "Submitter":
        """A machine's submitter, bound as INGEST_CREDENTIALS says."""
        return cls(principal, frozenset(grant.event_types), frozenset(grant.sources), channel)

    def refusals(self, event: EnterpriseEvent) -> tuple[FieldError, ...]:
        """What this principal may not submit about `event`: its payload type, its source,
        another enterprise's, another bureau's rule; a person also no correction."""
        errors = list(self._person_refusals(event)) if self.person else []
        kind = event.payload_type
        if kind not in self.event_types:
            errors.append(FieldError(kind, f"permission denied: {self.principal} may not submit"
                                     f" {kind} events (bound to"
                                     f" {', '.join(sorted(self.event_types))})"))  # fmt: skip
        if event.source not in self.sources:
            errors.append(
                FieldError(
                    "source",
                    f"permission denied: {self.principal} may not claim this source"
                    f" (bound to {', '.join(sorted(self.sources))})",
                )
            )
        if self.enterprise_id is not None and event.enterprise_id != self.enterprise_id:
            errors.append(FieldError("enterpriseId", f"permission denied: {self.principal} may"
                                     " submit for its own enterprise only"))  # fmt: skip
        rule = getattr(event.payload, "rule_id", None)
        if self.rules is not None and kind in RULED_PAYLOADS and rule not in self.rules:
            errors.append(FieldError(f"{kind}.ruleId", f"permission denied: {self.principal}"
                                     f" decides {self.bureau}'s rules only"))  # fmt: skip
        return tuple(errors)

    def _person_refusals(self, event: EnterpriseEvent) -> list[FieldError]:
        """What a person's session may not send whatever its role: an eventId of its own
        making, a correction, an event not dated today in Beijing. Every person shares the
        portal's source, so a correction would let one rewrite another's decision (another
        bureau's, a four-eyes approval into a rejection); a decision is put right by a new
        decision or an appeal, which history keeps beside the first."""
        errors = []
        if PERSON_EVENT_ID.fullmatch(event.event_id) is None:
            errors.append(FieldError("eventId", "permission denied: a person's eventId is"
                                     " portal-<uuid4> /"
                                     " 个人提交的事件编号须为 portal-<uuid4>"))  # fmt: skip
        if event.revision_number > 1:
            errors.append(FieldError("revision", f"permission denied: {self.principal} may not"
                                     " correct an event; a decision is put right by a new"
                                     " decision or an appeal /"
                                     " 个人不得更正已提交的事件"))  # fmt: skip
        # The payouts start an award's public notice (公示) on the occurredOn of the event that
        # decided it, which for a person's decision the client writes: a reviewDecided dated
        # a week back would make an order payable at once. Today only, not yesterday too: a
        # submission that straddles midnight is refused, naming the day, and the person sends
        # it again (the pages date each submission as it is made); admitting yesterday would
        # let anyone take a day off the notice of any decision of theirs.
        today = in_beijing(self.clock()).date()
        if event.occurred_on != today:
            errors.append(FieldError("occurredOn", f"permission denied: a person's event is"
                                     f" dated today in Beijing, {today.isoformat()} /"
                                     " 个人提交的事件须以北京时间当日为发生日期"))  # fmt: skip
        return errors

    def provenance(self, at: datetime | None = None) -> epb.Provenance:
        """Who submitted, how and when: set on every event this call gets accepted. The time
        goes in `accepted_time` and, until v2.0.0, in the deprecated `accepted_at` string."""
        moment = at or datetime.now(UTC)
        return epb.Provenance(
            principal=self.principal,
            channel=self.channel,
            accepted_at=moment.isoformat(timespec="seconds"),
            accepted_time=timestamp(moment),
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
        return Submitter.of_grant(caller.principal, self._writers[caller.principal], channel)


class SessionBindings:
    """People's bindings, from their role: the portal's source only, an enterprise its own
    enterprise's events, a reviewer or approver its bureau's rules (the catalog's
    responsible units, in any version of the policy)."""

    def __init__(
        self,
        portal_source: str,
        catalog: Catalog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = frozenset({portal_source})
        self._clock = clock
        self._rules: dict[str, set[str]] = {}
        for version in catalog.timeline:
            for rule in version.rules:
                for unit in rule.responsible_units:
                    self._rules.setdefault(unit, set()).add(rule.id)

    def of(self, principal: Principal) -> Submitter | None:
        """The person's submitter, through the portal (None: its role submits nothing)."""
        types = ROLE_EVENT_TYPES.get(principal.role)
        if types is None:
            return None
        rules = None
        if principal.role is not Role.ENTERPRISE:
            rules = frozenset(self._rules.get(principal.bureau or "", ()))
        return Submitter(principal.name, types, self._source, SESSION_CHANNEL,
                         principal.enterprise_id, rules, principal.bureau,
                         person=True, clock=self._clock)  # fmt: skip


def auth_interceptor(
    writers: Mapping[str, WriterGrant],
    auditor_digests: Collection[str] = (),
    sessions: SessionGate | None = None,
) -> BearerAuthInterceptor:
    """IngestService for writer tokens and, with a gate, people's sessions whose role the
    access matrix lets submit; an auditor token (recognised by its digest) is
    PERMISSION_DENIED, anything else UNAUTHENTICATED. Health and reflection stay open."""

    def refused(code: grpc.StatusCode) -> None:
        if code == grpc.StatusCode.UNAUTHENTICATED:
            metrics.UNAUTHENTICATED.inc()
        else:
            metrics.FORBIDDEN.inc()

    credentials = Credentials({WRITER: writers}, {AUDITOR: auditor_digests})
    return BearerAuthInterceptor(credentials, {SERVICE_NAME: WRITER}, on_refused=refused,
                                 sessions=sessions, access=ACCESS)  # fmt: skip
