"""The platform's services as child processes of the main job: start, wait ready, stop."""

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subsidy.devstack.db_logins import PASSWORDS_ENV
from subsidy.infra.grpc_tls import PLAINTEXT, SERVER_VARIABLES, ClientTls, aio_channel

# Below Linux's ephemeral range (32768-60999): a port the kernel handed out for binding to 0 is
# free only until the next outgoing connection (every Kafka client makes many) takes it.
FREE_PORTS = range(20_000, 32_768)


def free_port() -> int:
    """A loopback port nobody listens on, for a server that must be told its port up front."""
    for _ in range(100):
        port = random.choice(FREE_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free loopback port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service: its `subsidy` subcommand, its environment, and how to tell it is up."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    grpc_address: str | None = None  # ready when its gRPC health service says SERVING
    # The CA its gRPC certificate is checked against (None: it serves plaintext).
    grpc_ca: Path | None = None
    health_url: str | None = None  # ready when this answers 200


@dataclass
class Running:
    """A started service."""

    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)


class ServiceFailed(RuntimeError):
    """A service exited or did not become ready; the message points at its log."""


def child_env(spec: ServiceSpec, parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The spec's environment over the parent's (default: ours), less every login and transport
    of the parent's own: no process inherits the owner's database URL, the passwords file, a
    Kafka login (a shell's or the tests' admin) or a gRPC server's certificate; each has what
    its spec gives it, or none."""
    inherited = {
        k: v
        for k, v in (os.environ if parent is None else parent).items()
        if not k.startswith(("DATABASE_URL", "KAFKA_"))
        and k != PASSWORDS_ENV
        and k not in SERVER_VARIABLES
    }
    return inherited | dict(spec.env)


def start(spec: ServiceSpec, logs: Path, prefix: str = "demo") -> Running:
    """Start `subsidy <args>` with the spec's environment; output to logs/<prefix>-<name>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{prefix}-{spec.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "subsidy.cli", *spec.args],
            env=child_env(spec),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal goes to the job, which stops them
        )
    return Running(spec, process, log)


async def wait_ready(running: Running, timeout_s: float = 60.0) -> None:
    """Until its health check passes: gRPC health SERVING, or an HTTP 200 (a pure consumer
    counts as ready once started: it has nothing to ask)."""
    deadline = time.monotonic() + timeout_s
    spec = running.spec
    while True:
        if running.process.poll() is not None:
            raise ServiceFailed(f"{spec.name} exited with {running.process.returncode}; "
                                f"see {running.log}")  # fmt: skip
        if spec.grpc_address is None and spec.health_url is None:
            return
        if await _healthy(spec):
            return
        if time.monotonic() > deadline:
            raise ServiceFailed(f"{running.spec.name} not ready after {timeout_s:.0f}s; "
                                f"see {running.log}")  # fmt: skip
        await asyncio.sleep(0.2)


async def _healthy(spec: ServiceSpec) -> bool:
    try:
        if spec.grpc_address is not None:
            transport = ClientTls(spec.grpc_ca) if spec.grpc_ca is not None else PLAINTEXT
            async with aio_channel(spec.grpc_address, transport) as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
        assert spec.health_url is not None
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(spec.health_url) as response,
        ):
            return response.status == 200
    except (grpc.aio.AioRpcError, aiohttp.ClientError, TimeoutError):
        return False


def alive(services: list[Running]) -> None:
    """Raise if any service has died (checked while waiting for decisions)."""
    for r in services:
        if r.process.poll() is not None:
            raise ServiceFailed(f"{r.spec.name} exited with {r.process.returncode}; see {r.log}")


def stop_all(services: list[Running], timeout_s: float = 15.0) -> list[str]:
    """SIGTERM every service, wait for all, SIGKILL what is left; returns the names killed."""
    for r in services:
        if r.process.poll() is None:
            r.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    killed = []
    for r in services:
        try:
            r.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            r.process.kill()
            r.process.wait()
            killed.append(r.spec.name)
    return killed
