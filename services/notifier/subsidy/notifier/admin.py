"""NotifierAdminService: put and list subscriptions over gRPC, behind a bearer token."""

import hmac

import asyncpg
import grpc
import structlog

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.domain.catalog import Catalog
from subsidy.infra.grpc_server import Registration, start_server
from subsidy.notifier import repository as repo
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import SubscriptionError, from_proto, subscribable, validate

log = structlog.get_logger(__name__)

SERVICE_NAME = api_pb2.DESCRIPTOR.services_by_name["NotifierAdminService"].full_name


class NotifierAdmin(api_pb2_grpc.NotifierAdminServiceServicer):
    """The servicer. Every call needs `authorization: Bearer <NOTIFIER_ADMIN_TOKEN>`."""

    def __init__(
        self, pool: asyncpg.Pool, settings: NotifierSettings, catalog: Catalog, token: str
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._bureaus = subscribable(catalog)
        self._expected = f"Bearer {token}".encode()

    async def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        given = dict(context.invocation_metadata() or ()).get("authorization", "")
        # Constant-time: the comparison must not reveal how much of a guess was right.
        if not hmac.compare_digest(str(given).encode(), self._expected):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")

    async def PutSubscription(
        self, request: api_pb2.Subscription, context: grpc.aio.ServicerContext
    ) -> api_pb2.Subscription:
        """Create or replace the subscriber's subscription; INVALID_ARGUMENT names the fields."""
        await self._authorize(context)
        try:
            sub = validate(
                from_proto(request),
                bureaus=self._bureaus,
                has_secret=lambda s: bool(self._settings.webhook_signing_secrets(s)),
            )
        except SubscriptionError as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
            raise  # abort raises; this line satisfies the type checker
        async with self._pool.acquire() as conn:
            await repo.put_subscriptions(conn, [sub])
        log.info("notifier.subscription_put", kind=sub.kind, subscriber=sub.subscriber)
        return sub.to_proto()

    async def ListSubscriptions(
        self, request: api_pb2.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.ListSubscriptionsResponse:
        """Every subscription."""
        await self._authorize(context)
        async with self._pool.acquire() as conn:
            subs = await repo.list_subscriptions(conn)
        return api_pb2.ListSubscriptionsResponse(subscriptions=[s.to_proto() for s in subs])


async def start_admin_server(
    pool: asyncpg.Pool, settings: NotifierSettings, catalog: Catalog, address: str | None = None
) -> tuple[grpc.aio.Server, int]:
    """Serve the admin API (with health and reflection); ValueError without an admin token,
    GrpcTlsError (a ValueError) without a transport."""
    transport = settings.grpc_transport()
    if settings.admin_token is None:
        raise ValueError("NOTIFIER_ADMIN_TOKEN is required to serve the admin API")
    servicer = NotifierAdmin(pool, settings, catalog, settings.admin_token.get_secret_value())
    registration = Registration(
        # Registration takes any servicer; the generated function wants this one's type.
        add=lambda _, server: api_pb2_grpc.add_NotifierAdminServiceServicer_to_server(
            servicer, server
        ),
        servicer=servicer,
        service_name=SERVICE_NAME,
    )
    return await start_server([registration], address or settings.grpc_address, transport=transport)
