"""A grpc.aio server: health and reflection, TLS unless told plaintext, a graceful stop."""

# The health and reflection services are the standard ones.

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from subsidy.infra.grpc_tls import Plaintext, ServerTransport

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Registration:
    """One servicer: the generated `add_…_to_server` function and the full service name."""

    add: Callable[[object, grpc.aio.Server], None]
    servicer: object
    service_name: str


async def start_server(
    registrations: Sequence[Registration],
    address: str,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    *,
    transport: ServerTransport,
) -> tuple[grpc.aio.Server, int]:
    """Start serving over the transport (a certificate, or plaintext only when configured so:
    subsidy.infra.grpc_tls); returns the server and the bound port (address may end in :0)."""
    server = grpc.aio.server(interceptors=list(interceptors))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for reg in registrations:
        reg.add(reg.servicer, server)
    names = [r.service_name for r in registrations]
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    if isinstance(transport, Plaintext):
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, transport.credentials())
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    tls = "off" if isinstance(transport, Plaintext) else "mutual" if transport.client_ca else "on"
    log.info("grpc.started", address=address, port=port, services=names, tls=tls)
    return server, port
