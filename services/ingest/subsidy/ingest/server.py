"""Running the ingest API: migrations, idempotent producer, backlog reader, gRPC server."""

# The backlog reader is the one bulk waits for; the gRPC server is authenticated.

from dataclasses import dataclass

import asyncpg
import grpc
import structlog
from aiokafka import AIOKafkaProducer

from subsidy.api.v1 import api_pb2_grpc
from subsidy.domain.catalog import load_catalog
from subsidy.identity.sessions import SessionGate
from subsidy.identity.settings import public_key_of
from subsidy.infra import records
from subsidy.infra.db_roles import check_role
from subsidy.infra.grpc_server import Registration, start_server
from subsidy.infra.records import RecordWriter
from subsidy.infra.topics import ENTERPRISE_EVENTS
from subsidy.ingest.backlog import Admission, KafkaBacklog, Stage
from subsidy.ingest.permissions import SessionBindings, Submitters
from subsidy.ingest.service import SERVICE_NAME, IngestServicer, auth_interceptor
from subsidy.ingest.settings import IngestSettings
from subsidy.ingest.sink import KafkaEventSink
from subsidy.ingest.store import ROLE, IngestStore

log = structlog.get_logger(__name__)

# The CloudEvents source of the records ingest writes.
SOURCE = "/subsidy/ingest"


@dataclass
class RunningIngest:
    """A started ingest server and what it holds; `stop` releases all of it."""

    server: grpc.aio.Server
    port: int
    producer: AIOKafkaProducer
    pool: asyncpg.Pool
    backlog: KafkaBacklog | None = None

    async def stop(self, grace: float = 5.0) -> None:
        """Let in-flight calls finish, then flush the producer and close the pool."""
        await self.server.stop(grace)
        await self.producer.stop()
        if self.backlog is not None:
            await self.backlog.stop()
        await self.pool.close()


def backlog_of(settings: IngestSettings) -> KafkaBacklog | None:
    """The reader of the pipeline's backlog (None: no admission control): the eligibility
    group on the events topic, the ledger group on the entitlements topic."""
    if settings.bulk_max_backlog == 0:
        return None
    return KafkaBacklog(settings.kafka, (
        Stage("eligibility", settings.eligibility_group_id, settings.topic),
        Stage("ledger", settings.ledger_group_id, settings.entitlements_topic),
    ))  # fmt: skip


async def start_ingest(settings: IngestSettings) -> RunningIngest:
    """Check the schema and the role (DatabaseRoleError: ingest never migrates), connect to
    Kafka and PostgreSQL, and serve on settings.grpc_address (which may end in :0; the bound
    port is returned). GrpcTlsError, before anything is started, without a transport."""
    transport = settings.grpc_transport()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1,
                                     max_size=settings.db_pool_size)  # fmt: skip
    try:
        async with pool.acquire() as conn:
            await check_role(conn, ROLE)
        # acks=all + idempotence: a retried send after a lost acknowledgement is not written
        # twice, and per-partition order holds across retries.
        producer = AIOKafkaProducer(
            **settings.kafka.options(),
            client_id="subsidy-ingest",
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=settings.produce_timeout_ms,
        )
        # Looked up before serving: an ingest whose topic's schema is not registered fails here.
        framers = records.framers(
            settings.kafka_schema_registry_url, SOURCE, {settings.topic: ENTERPRISE_EVENTS.name}
        )
        await producer.start()
    except BaseException:
        await pool.close()
        raise
    try:
        key = public_key_of(settings.session_public_key)
        # People's sessions, when a key is set: checked against the credentials (this pool's
        # role reads them) and bound by role to the catalog's rules of their bureau.
        gate = None if key is None else SessionGate(key, pool)
        bindings = None
        if key is not None:
            catalog = load_catalog(settings.policy_catalog, settings.policy_overlay)
            bindings = SessionBindings(settings.portal_source, catalog)
        backlog = backlog_of(settings)
        servicer = IngestServicer(
            IngestStore(pool),
            KafkaEventSink(
                RecordWriter(producer, framers), settings.topic, settings.produce_timeout_ms / 1000
            ),
            settings.topic,
            Submitters(settings.writers),
            bindings,
            Admission(backlog, settings.bulk_max_backlog, settings.bulk_max_wait_s),
        )
        registration = Registration(
            # Registration takes any servicer; the generated function wants this one's type.
            add=lambda _, server: api_pb2_grpc.add_IngestServiceServicer_to_server(
                servicer, server
            ),
            servicer=servicer,
            service_name=SERVICE_NAME,
        )
        auth = auth_interceptor(settings.writers, settings.auditor_digests, gate)
        server, port = await start_server(
            [registration], settings.grpc_address, [auth], transport=transport
        )
    except BaseException:
        await producer.stop()
        await pool.close()
        raise
    log.info("ingest.started", port=port, topic=settings.topic,
             bulk_max_backlog=settings.bulk_max_backlog)  # fmt: skip
    return RunningIngest(server, port, producer, pool, backlog)
