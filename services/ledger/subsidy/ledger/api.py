"""gRPC `subsidy.api.v1.LedgerService`: the ledger's read-only queries for auditors and bureaus."""

from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn, TypeVar

import asyncpg
import grpc
import structlog
from pydantic import TypeAdapter, ValidationError

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog
from subsidy.domain.events import EnterpriseId, FieldError, visible_text
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra.grpc_errors import bad_request
from subsidy.infra.grpc_server import Registration
from subsidy.infra.postgres import TRANSIENT_ERRORS
from subsidy.ledger import api_access, metrics, queries
from subsidy.ledger.chain import verify_chains
from subsidy.ledger.page_tokens import BadPageToken
from subsidy.ledger.queries import DecisionFilter

log = structlog.get_logger(__name__)

SERVICE_NAME = api_pb2.DESCRIPTOR.services_by_name["LedgerService"].full_name

T = TypeVar("T")

_ENTERPRISE_ID: TypeAdapter[str] = TypeAdapter(EnterpriseId)
# What a calendar date's year can be (occurredOn is one).
_YEARS = range(1, 10_000)
_GROUPS = ("MEASURE", "RULE", "DISTRICT", "YEAR", "FUNDING_CHANNEL")
NOT_FOUND = grpc.StatusCode.NOT_FOUND
# An entitlement id is an event id (at most 128 characters), "/" and a rule id; a decision id
# adds "#<revision>". Anything longer is no id of this ledger.
MAX_ID = 256
_SHOWN = 64


def shown(value: str) -> str:
    """A caller's id as answers and logs quote it: escaped (NUL, bidi controls), and a long one
    cut to its first characters and its length, so a megabyte never comes back whole."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


async def _abort(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str
) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort returns only by raising")


async def _abort_invalid(
    context: grpc.aio.ServicerContext, errors: Sequence[FieldError]
) -> NoReturn:
    """INVALID_ARGUMENT with a google.rpc.BadRequest naming each bad request field."""
    log.info("ledger_api.invalid_request", errors=[str(e) for e in errors])
    await context.abort_with_status(bad_request(errors))
    raise AssertionError("abort_with_status returns only by raising")


class _Checker:
    """Collects every bad field of a request, so one answer names them all. Every id a request
    carries goes through here before it reaches a query."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def enterprise(self, value: str, field: str = "enterpriseId") -> str | None:
        try:
            return _ENTERPRISE_ID.validate_python(value)
        except ValidationError as err:
            self.fail(field, err.errors()[0]["msg"].removeprefix("Value error, "))
            return None

    def id(self, value: str, field: str) -> str | None:
        """An entitlement, rule or decision id: 1 to MAX_ID characters, none of them a control
        or invisible one (PostgreSQL refuses NUL in text: the query itself would fail)."""
        if not value:
            self.fail(field, "required")
        elif len(value) > MAX_ID:
            self.fail(field, f"at most {MAX_ID} characters, got {shown(value)}")
        else:
            try:
                return visible_text(value)
            except ValueError as err:
                self.fail(field, f"{err}, in {shown(value)}")
        return None

    def year(self, value: int, field: str = "year") -> int | None:
        if value not in _YEARS:
            self.fail(field, f"a calendar year (1…9999), got {value}")
            return None
        return value


class LedgerServicer(api_pb2_grpc.LedgerServiceServicer):
    """Answers from PostgreSQL through a pool whose sessions are read-only."""

    def __init__(
        self, pool: asyncpg.Pool, catalog: Catalog, default_page_size: int, max_page_size: int
    ) -> None:
        self._pool = pool
        self._rules = frozenset(r.id for r in catalog.rules)
        self._measures = frozenset(r.measure for r in catalog.rules)
        self._default_page_size = default_page_size
        self._max_page_size = max_page_size

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        work: Callable[[asyncpg.Connection], Awaitable[T]],
    ) -> T:
        """Run a query on a pooled connection; database trouble becomes UNAVAILABLE (retry)
        or INTERNAL, without the driver's message (it may quote data)."""
        try:
            async with self._pool.acquire() as conn:
                return await work(conn)
        except TRANSIENT_ERRORS as err:
            log.error("ledger_api.database_unavailable", error=repr(err))
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "the ledger database is unavailable")
        except asyncpg.PostgresError as err:
            log.error("ledger_api.query_failed", error=repr(err))
            await _abort(context, grpc.StatusCode.INTERNAL, "the ledger query failed")

    async def GetStatement(
        self, request: api_pb2.GetStatementRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.GetStatementResponse:
        """Every entitlement's latest decision for the enterprise, with granted and clawback
        totals; optionally of one year."""
        with metrics.API_LATENCY.labels("GetStatement").time():
            check = _Checker()
            enterprise_id = check.enterprise(request.enterprise_id)
            year = check.year(request.year) if request.HasField("year") else None
            if check.errors or enterprise_id is None:
                await _abort_invalid(context, check.errors)
            if not api_access.may_read(enterprise_id):
                await api_access.deny(context, "enterpriseId")
            found = await self._read(context, lambda c: queries.statement(c, enterprise_id, year))
            if found is None:
                await _abort(context, NOT_FOUND, f"the ledger has no enterprise {enterprise_id}")
            return found

    async def ListDecisions(
        self, request: api_pb2.ListDecisionsRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.ListDecisionsResponse:
        """A page of decisions matching the filters, oldest first, and the next page's token."""
        with metrics.API_LATENCY.labels("ListDecisions").time():
            check = _Checker()
            filters = self._filters(request, check)
            page_size = self._page_size(request.page_size, check)
            after = None
            if request.page_token and filters is not None:
                try:
                    after = queries.decode_page_token(request.page_token, filters)
                except BadPageToken as err:
                    check.fail("pageToken", str(err))
                else:  # anyone can write a token: its decision id is the caller's text too
                    after = after if check.id(after.id, "pageToken") else None
            if check.errors or filters is None:
                await _abort_invalid(context, check.errors)
            if not api_access.may_read(filters.enterprise_id):  # an enterprise names its own
                await api_access.deny(context, "enterpriseId")
            decisions, cursor = await self._read(
                context, lambda c: queries.list_decisions(c, filters, page_size, after)
            )
            token = "" if cursor is None else queries.encode_page_token(cursor, filters)
            return api_pb2.ListDecisionsResponse(decisions=decisions, next_page_token=token)

    def _filters(
        self, request: api_pb2.ListDecisionsRequest, check: _Checker
    ) -> DecisionFilter | None:
        before = len(check.errors)
        enterprise_id = check.enterprise(request.enterprise_id) if request.enterprise_id else None
        rule_id = check.id(request.rule_id, "ruleId") if request.rule_id else None
        if rule_id is not None and rule_id not in self._rules:
            check.fail("ruleId", f"unknown rule {shown(rule_id)}")
        if request.measure and request.measure not in self._measures:
            check.fail("measure", f"a measure number {min(self._measures)}…"
                                  f"{max(self._measures)}, got {request.measure}")  # fmt: skip
        district = None
        if request.district != epb.DISTRICT_UNSPECIFIED:
            try:
                district = epb.District.Name(request.district)
            except ValueError:
                check.fail("district", f"unknown district {request.district}")
        status = None
        if request.status != dpb.STATUS_UNSPECIFIED:
            try:
                status = dpb.Status.Name(request.status)
            except ValueError:
                check.fail("status", f"unknown status {request.status}")
            if status == "ELIGIBLE":
                check.fail("status", "ELIGIBLE is eligibility's verdict, never a decision's status")
        year = check.year(request.year) if request.year else None
        if len(check.errors) > before:
            return None
        return DecisionFilter(
            enterprise_id=enterprise_id,
            rule_id=rule_id,
            measure=request.measure or None,
            district=district,
            year=year,
            status=status,
            latest_only=request.latest_only,
        )

    def _page_size(self, requested: int, check: _Checker) -> int:
        if requested < 0:
            check.fail("pageSize", f"must not be negative, got {requested}")
        if requested <= 0:
            return self._default_page_size
        return min(requested, self._max_page_size)

    async def ExplainDecision(
        self, request: api_pb2.ExplainDecisionRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.ExplainDecisionResponse:
        """The entitlement's eligibility trace, its ledger checks with their numbers, every
        revision, and the other decisions on its item."""
        with metrics.API_LATENCY.labels("ExplainDecision").time():
            check = _Checker()
            entitlement_id = check.id(request.entitlement_id, "entitlementId")
            if check.errors or entitlement_id is None:
                await _abort_invalid(context, check.errors)
            if api_access.bound_enterprise() is not None:
                owner = await self._read(context, lambda c: c.fetchval(
                    "SELECT enterprise_id FROM entitlements WHERE entitlement_id = $1",
                    entitlement_id))  # fmt: skip
                if not api_access.may_read(owner):  # none, or another's: the same answer
                    await api_access.deny(context, "entitlementId")
            found = await self._read(context, lambda c: queries.explain(c, entitlement_id))
            if found is None:
                await _abort(
                    context, NOT_FOUND, f"the ledger has no entitlement {shown(entitlement_id)}"
                )
            return found

    async def GetTotals(
        self, request: api_pb2.GetTotalsRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.GetTotalsResponse:
        """Granted fen and entitlements by measure, rule, district, year or funding channel."""
        with metrics.API_LATENCY.labels("GetTotals").time():
            group = request.group_by
            if group not in [api_pb2.TotalsGroup.Value(g) for g in _GROUPS]:
                await _abort_invalid(
                    context, [FieldError("groupBy", f"one of {', '.join(_GROUPS)}, got {group}")]
                )
            return await self._read(context, lambda c: queries.totals(c, group))

    async def VerifyChain(
        self, request: api_pb2.VerifyChainRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.VerifyChainResponse:
        """Recompute every enterprise's hash chain; name the first broken entry."""
        with metrics.API_LATENCY.labels("VerifyChain").time():
            result = await self._read(context, verify_chains)
            metrics.observe_verification(result)
            if not result.ok:
                log.error("ledger_api.chain_broken", entry=result.first_broken_entry,
                          detail=result.detail)  # fmt: skip
            return api_pb2.VerifyChainResponse(
                ok=result.ok,
                entries_checked=result.entries_checked,
                first_broken_entry=result.first_broken_entry,
                detail=result.detail,
            )


def registration(servicer: LedgerServicer) -> Registration:
    """The servicer as `subsidy.infra.grpc_server.start_server` takes it."""
    return Registration(
        # Registration takes any servicer; the generated function wants this one's type.
        add=lambda _, server: api_pb2_grpc.add_LedgerServiceServicer_to_server(servicer, server),
        servicer=servicer,
        service_name=SERVICE_NAME,
    )
