"""NotifierAdminService over real gRPC: bearer token, validation, put and list, health."""

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.domain.catalog import load_catalog
from subsidy.harness.databases import create_schema, drop_schema, migrate_platform
from subsidy.notifier.admin import SERVICE_NAME
from subsidy.notifier.bootstrap import admin_server
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.signing import new_secret
from tests.factories import enterprise_id
from tests.ledger.database import as_role
from tests.notifier.receivers import NOTIFIER_SCHEMA
from tests.support.grpc_tls import GrpcTls

pytestmark = pytest.mark.postgres

TOKEN = "admin-token-0123456789abcdef"
WITH_SECRET = enterprise_id(911)
WITHOUT_SECRET = enterprise_id(912)


@pytest.fixture
async def stub(
    fresh_database_url: str, grpc_tls: GrpcTls
) -> AsyncIterator[api_pb2_grpc.NotifierAdminServiceStub]:
    """The admin API on an ephemeral loopback port (TLS), over a schema of this test's own."""
    schema, url = await create_schema(fresh_database_url, NOTIFIER_SCHEMA)
    await migrate_platform(url)
    settings = NotifierSettings(  # type: ignore[call-arg]
        database_url=as_role(url, "notifier_worker"),
        admin_token=SecretStr(TOKEN),
        webhook_secrets={WITH_SECRET: [SecretStr(new_secret())]},
        grpc_tls_cert=grpc_tls.server.cert,
        grpc_tls_key=grpc_tls.server.key,
    )
    try:
        async with (
            admin_server(settings, load_catalog(), "127.0.0.1:0", grace=None) as (_, port),
            grpc_tls.channel(f"127.0.0.1:{port}") as channel,
        ):
            health = health_pb2_grpc.HealthStub(channel)
            status = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
            assert status.status == health_pb2.HealthCheckResponse.SERVING
            yield api_pb2_grpc.NotifierAdminServiceStub(channel)
    finally:
        await drop_schema(fresh_database_url, schema)


AUTH = (("authorization", f"Bearer {TOKEN}"),)


async def test_admin_api_needs_the_bearer_token(
    stub: api_pb2_grpc.NotifierAdminServiceStub,
) -> None:
    for metadata in [(), (("authorization", "Bearer wrong-token-0123456789"),)]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListSubscriptions(api_pb2.ListSubscriptionsRequest(), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutSubscription(
            api_pb2.Subscription(bureau="市工信局", email="gx@sz.example.cn")
        )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("subscription", "message"),
    [
        (api_pb2.Subscription(enterprise_id="91320500MA000000", email="a@b.cn"), "enterpriseId"),
        (api_pb2.Subscription(bureau="市教育厅", email="a@b.cn"), "not a responsible unit"),
        (
            api_pb2.Subscription(enterprise_id=WITH_SECRET, webhook_url="ftp://hooks.example.cn"),
            "http or https",
        ),
        (
            api_pb2.Subscription(
                enterprise_id=WITHOUT_SECRET, webhook_url="https://hooks.example.cn/x"
            ),
            "no webhook secret",
        ),
        (api_pb2.Subscription(enterprise_id=WITH_SECRET, email="nope"), "email"),
        (
            api_pb2.Subscription(enterprise_id=WITH_SECRET, email="a@b.cn", language="de"),
            "zh or en",
        ),
        (api_pb2.Subscription(email="a@b.cn"), "exactly one of enterpriseId or bureau"),
    ],
)
async def test_invalid_subscriptions_are_refused_with_the_field(
    stub: api_pb2_grpc.NotifierAdminServiceStub, subscription: api_pb2.Subscription, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutSubscription(subscription, metadata=AUTH)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (err.value.details() or "")


async def test_put_replaces_and_list_returns_subscriptions(
    stub: api_pb2_grpc.NotifierAdminServiceStub,
) -> None:
    put = await stub.PutSubscription(
        api_pb2.Subscription(
            enterprise_id=WITH_SECRET, webhook_url="https://hooks.example.cn/a", language="en"
        ),
        metadata=AUTH,
    )
    assert put.language == "en"
    await stub.PutSubscription(
        api_pb2.Subscription(enterprise_id=WITH_SECRET, email="ops@example.cn"), metadata=AUTH
    )
    await stub.PutSubscription(
        api_pb2.Subscription(bureau="市工信局", email="gx@sz.example.cn"), metadata=AUTH
    )
    listed = await stub.ListSubscriptions(api_pb2.ListSubscriptionsRequest(), metadata=AUTH)
    assert list(listed.subscriptions) == [
        # Put replaces the subscriber's subscription: the webhook is gone, zh is the default.
        api_pb2.Subscription(enterprise_id=WITH_SECRET, email="ops@example.cn", language="zh"),
        api_pb2.Subscription(bureau="市工信局", email="gx@sz.example.cn", language="zh"),
    ]
