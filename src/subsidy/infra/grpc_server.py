"""A grpc.aio server with the standard health and reflection services and a graceful stop."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

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
) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the bound port (address may end in :0)."""
    server = grpc.aio.server(interceptors=list(interceptors))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for reg in registrations:
        reg.add(reg.servicer, server)
    names = [r.service_name for r in registrations]
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(address)
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("grpc.started", address=address, port=port, services=names)
    return server, port
