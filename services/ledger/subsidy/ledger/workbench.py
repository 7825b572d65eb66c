"""gRPC `subsidy.api.v1.WorkbenchService`: a bureau's queues of cases waiting for a person."""

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

import asyncpg
import grpc
import structlog

from subsidy.api.v1 import workbench_pb2 as wpb
from subsidy.api.v1 import workbench_pb2_grpc
from subsidy.contract.instants import timestamp
from subsidy.domain.beijing import beijing_iso
from subsidy.domain.catalog import Catalog, Rule
from subsidy.domain.deadlines import Deadlines, Queue, clock, load_deadlines, overdue_before
from subsidy.domain.events import FieldError, visible_text
from subsidy.identity.principal import BUREAU_ROLES, Role, current_principal
from subsidy.infra.grpc_errors import bad_request
from subsidy.infra.grpc_server import Registration
from subsidy.infra.postgres import TRANSIENT_ERRORS
from subsidy.ledger import workbench_queries as wq
from subsidy.ledger.api import shown
from subsidy.ledger.page_tokens import BadPageToken, Cursor

log = structlog.get_logger(__name__)

SERVICE_NAME = wpb.DESCRIPTOR.services_by_name["WorkbenchService"].full_name
MAX_QUERY = 64

T = TypeVar("T")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The time the workbench ages cases at."""
    return datetime.now(UTC)


def bureau_rules(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """Each bureau (责任单位) and the rules whose responsible units name it, over every
    version of the policy (a case keeps the rule it was decided under)."""
    found: dict[str, set[str]] = {}
    for version in catalog.timeline:
        for rule in version.rules:
            for unit in rule.responsible_units:
                found.setdefault(unit, set()).add(rule.id)
    return {unit: tuple(sorted(rules)) for unit, rules in sorted(found.items())}


async def _abort(context: grpc.aio.ServicerContext, status: grpc.Status) -> NoReturn:
    await context.abort_with_status(status)
    raise AssertionError("abort_with_status returns only by raising")


class WorkbenchServicer(workbench_pb2_grpc.WorkbenchServiceServicer):
    """Answers from PostgreSQL through the ledger API's read-only pool; ages cases at `now()`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: Catalog,
        default_page_size: int,
        max_page_size: int,
        now: Clock = utc_now,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._pool = pool
        self._bureaus = bureau_rules(catalog)
        self._rules: Mapping[str, Rule] = {
            r.id: r for version in catalog.timeline for r in version.rules
        }
        self._default_page_size = default_page_size
        self._max_page_size = max_page_size
        self._now = now
        self._deadlines = deadlines or load_deadlines()

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        work: Callable[[asyncpg.Connection, bool], Awaitable[T]],
    ) -> T:
        """Run `work(conn, payouts present)` in one read-only snapshot; database trouble is
        UNAVAILABLE (retry) or INTERNAL, without the driver's message (it may quote data)."""
        try:
            async with (
                self._pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                return await work(conn, await wq.payouts_present(conn))
        except TRANSIENT_ERRORS as err:
            log.error("workbench.database_unavailable", error=repr(err))
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the ledger database is unavailable")
        except asyncpg.PostgresError as err:
            log.error("workbench.query_failed", error=repr(err))
            await context.abort(grpc.StatusCode.INTERNAL, "the workbench query failed")
        raise AssertionError("abort returns only by raising")

    async def _authorize(self, bureau: str, context: grpc.aio.ServicerContext) -> None:
        """A reviewer or approver reads its own bureau's queues only; an auditor any. No
        principal: the interceptor admitted a static token, which for this service is only
        ever an auditor's."""
        principal = current_principal.get()
        if principal is None or principal.role is Role.AUDITOR:
            return
        if principal.role in BUREAU_ROLES and principal.bureau == bureau:
            return
        if principal.role in BUREAU_ROLES:
            message = (f"{principal.name} acts for {principal.bureau} and may read its queues"
                       f" only, not {shown(bureau)}'s")  # fmt: skip
        else:
            message = f"a {principal.role.value} may not read a bureau's queues"
        log.warning("workbench.refused", principal=principal.name, bureau=bureau[:80])
        status = bad_request(
            [FieldError("bureau", message)], code=grpc.StatusCode.PERMISSION_DENIED
        )
        await _abort(context, status)

    def _bureau(self, value: str, errors: list[FieldError]) -> tuple[str, ...]:
        if not value:
            errors.append(FieldError("bureau", "required"))
        elif value not in self._bureaus:
            errors.append(FieldError("bureau", f"unknown bureau {shown(value)}: one of"
                                               f" {', '.join(self._bureaus)}"))  # fmt: skip
        return self._bureaus.get(value, ())

    def _queue(self, value: int, errors: list[FieldError]) -> Queue | None:
        known = value in wpb.WorkbenchQueue.values()
        name = wpb.WorkbenchQueue.Name(wpb.WorkbenchQueue.ValueType(value)) if known else ""
        if name in Queue.__members__:
            return Queue(name)
        errors.append(FieldError("queue", f"one of {', '.join(Queue)}, got {value}"))
        return None

    def _page_size(self, requested: int, errors: list[FieldError]) -> int:
        if requested < 0:
            errors.append(FieldError("pageSize", f"must not be negative, got {requested}"))
        if requested <= 0:
            return self._default_page_size
        return min(requested, self._max_page_size)

    async def ListQueue(
        self, request: wpb.ListQueueRequest, context: grpc.aio.ServicerContext
    ) -> wpb.ListQueueResponse:
        """One page of the bureau's queue, the oldest case first, each aged at now."""
        await self._authorize(request.bureau, context)
        errors: list[FieldError] = []
        rules = self._bureau(request.bureau, errors)
        queue = self._queue(request.queue, errors)
        page_size = self._page_size(request.page_size, errors)
        after = None
        if queue is not None and request.page_token:
            key = wq.QueueKey(request.bureau, queue, request.overdue_only)
            try:
                after = wq.decode_page_token(request.page_token, key)
            except BadPageToken as err:
                errors.append(FieldError("pageToken", str(err)))
        if errors or queue is None:
            await _abort(context, bad_request(errors))
        now = self._now()
        cutoff = overdue_before(queue, now, self._deadlines) if request.overdue_only else None

        async def work(
            conn: asyncpg.Connection, payouts: bool
        ) -> tuple[list[asyncpg.Record], Cursor | None]:
            sql = wq.queue_sql(queue, payouts)
            if sql is None:
                return [], None
            return await wq.page(conn, sql, rules, page_size, after, cutoff)

        rows, cursor = await self._read(context, work)
        token = ""
        if cursor is not None:
            token = wq.encode_page_token(
                cursor, wq.QueueKey(request.bureau, queue, request.overdue_only)
            )
        return wpb.ListQueueResponse(
            cases=[self._case(queue, r, now) for r in rows], next_page_token=token
        )

    def _case(self, queue: Queue, row: asyncpg.Record, now: datetime) -> wpb.WorkbenchCase:
        case = clock(queue, row["entered_at"], now, self._deadlines)
        rule = self._rules.get(row["rule_id"])
        return wpb.WorkbenchCase(
            case_id=row["case_id"],
            queue=wpb.WorkbenchQueue.Value(queue.value),
            enterprise_id=row["enterprise_id"],
            enterprise_name=row["enterprise_name"],
            district=row["district"],
            entitlement_id=row["entitlement_id"],
            rule_id=row["rule_id"],
            clause="" if rule is None else f"第{rule.measure}条 {rule.title}",
            amount_fen=row["amount_fen"],
            entered_at=beijing_iso(row["entered_at"]),
            entered_time=timestamp(row["entered_at"]),
            due_at=beijing_iso(case.due_at),
            due_time=timestamp(case.due_at),
            age_working_days=case.age_working_days,
            overdue=case.overdue,
            calendar_known=case.calendar_known,
            awaiting_second_approval=bool(row["first_reviewer"]),
            first_reviewer=row["first_reviewer"],
            reason=row["reason"],
        )

    async def GetQueueCounts(
        self, request: wpb.GetQueueCountsRequest, context: grpc.aio.ServicerContext
    ) -> wpb.GetQueueCountsResponse:
        """Every queue's open cases and how many of them are overdue, from one snapshot."""
        await self._authorize(request.bureau, context)
        errors: list[FieldError] = []
        rules = self._bureau(request.bureau, errors)
        if errors:
            await _abort(context, bad_request(errors))
        now = self._now()

        async def work(conn: asyncpg.Connection, payouts: bool) -> list[wpb.QueueCount]:
            counts = []
            for queue in Queue:
                sql = wq.queue_sql(queue, payouts)
                cutoff = overdue_before(queue, now, self._deadlines)
                by_rule = {} if sql is None else await wq.count_by_rule(conn, sql, rules, cutoff)
                counts.append(
                    wpb.QueueCount(
                        queue=wpb.WorkbenchQueue.Value(queue.value),
                        total=sum(total for total, _ in by_rule.values()),
                        overdue=sum(overdue for _, overdue in by_rule.values()),
                    )
                )
            return counts

        return wpb.GetQueueCountsResponse(
            counts=await self._read(context, work),
            as_of=beijing_iso(now),
            as_of_time=timestamp(now),
        )

    async def SearchEnterprises(
        self, request: wpb.SearchEnterprisesRequest, context: grpc.aio.ServicerContext
    ) -> wpb.SearchEnterprisesResponse:
        """Enterprises with cases under the bureau's rules, by USCC prefix or name."""
        await self._authorize(request.bureau, context)
        errors: list[FieldError] = []
        rules = self._bureau(request.bureau, errors)
        query = request.query.strip()
        if not query:
            errors.append(FieldError("query", "required"))
        elif len(query) > MAX_QUERY:
            errors.append(FieldError("query", f"at most {MAX_QUERY} characters"))
        else:
            try:
                visible_text(query)
            except ValueError as err:
                errors.append(FieldError("query", f"{err}, in {shown(query)}"))
        if errors:
            await _abort(context, bad_request(errors))

        async def work(conn: asyncpg.Connection, payouts: bool) -> list[asyncpg.Record]:
            sources = [s for q in Queue if (s := wq.queue_sql(q, payouts)) is not None]
            return await wq.search(conn, query, rules, sources)

        rows = await self._read(context, work)
        return wpb.SearchEnterprisesResponse(
            enterprises=[
                wpb.EnterpriseMatch(
                    enterprise_id=r["enterprise_id"],
                    enterprise_name=r["enterprise_name"],
                    district=r["district"],
                    open_cases=r["open_cases"],
                )
                for r in rows
            ]
        )


def registration(
    pool: asyncpg.Pool,
    catalog: Catalog,
    default_page_size: int,
    max_page_size: int,
    now: Clock = utc_now,
) -> Registration:
    """The workbench on the ledger API's pool, as `subsidy.infra.grpc_server.start_server`
    takes it (the API server mounts it beside LedgerService, behind the same token check)."""
    servicer = WorkbenchServicer(pool, catalog, default_page_size, max_page_size, now)
    return Registration(
        add=lambda _, server: workbench_pb2_grpc.add_WorkbenchServiceServicer_to_server(
            servicer, server
        ),
        servicer=servicer,
        service_name=SERVICE_NAME,
    )
