"""The devstack as a whole: bring Kafka and PostgreSQL up, take them down, report on them."""

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from subsidy.devstack import (
    db_logins,
    endpoints,
    kafka_admin,
    kafka_grants,
    kafka_logins,
    postgres_db,
)
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_broker import Broker
from subsidy.devstack.local_ca import GRPC_CERT_NAME, ensure_cert
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_server import PostgresServer
from subsidy.devstack.procs import port_open
from subsidy.infra.signing_keys import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, write_key_pair

KAFKA_READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ComponentStatus:
    """One line of `status`."""

    component: str
    state: str
    address: str
    pid: int | None
    log: str
    ok: bool


def redact(url: str) -> str:
    """url with its password, if any, replaced by ***, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def write_stack_env(layout: Layout) -> None:
    """Record where the stack is, for Makefiles and shells: `. .run/stack.env`; with the local
    ledger key pair (made once in .run/ledger-key/) the relay signs with and the notifier
    checks, and the local anchor log."""
    layout.run.mkdir(parents=True, exist_ok=True)
    keys = layout.run / "ledger-key"
    if not (keys / PRIVATE_KEY_NAME).exists():
        write_key_pair(keys)
    url = endpoints.database_url()
    logins = "".join(
        f"DATABASE_URL_{login.upper()}={shlex.quote(db_logins.login_url(url, login))}\n"
        for login in db_logins.LOGINS
        if login in db_logins.read_passwords()
    )
    kafka = "".join(
        f"{k}={shlex.quote(v)}\n" for k, v in endpoints.kafka_connection().env().items()
    )
    # The certificate a gRPC server run by hand serves, and the CA its clients check it with.
    grpc = ensure_cert(layout.tls_dir, GRPC_CERT_NAME)
    # Passwords are in it: only this user may read it.
    layout.stack_env.touch(mode=0o600)
    layout.stack_env.chmod(0o600)
    layout.stack_env.write_text(
        "# Written by `subsidy dev up`: where this checkout's Kafka and PostgreSQL are.\n"
        "# DATABASE_URL is the owner's (`subsidy db migrate`, tools, tests); each service logs\n"
        "# in as its own role (DATABASE_URL_<LOGIN>, docs/security.md). KAFKA_SASL_* are the\n"
        f"# admin's; each service's Kafka login is in {kafka_logins.PASSWORDS_FILE} beside this.\n"
        f"{kafka}"
        f"DATABASE_URL={shlex.quote(url)}\n"
        f"{db_logins.PASSWORDS_ENV}={db_logins.passwords_path()}\n"
        f"{logins}"
        f"LEDGER_SIGNING_KEY_FILE={keys / PRIVATE_KEY_NAME}\n"
        f"LEDGER_ANCHOR_FILE={layout.run / 'ledger-anchors.jsonl'}\n"
        f"NOTIFIER_LEDGER_PUBLIC_KEY_FILE={keys / PUBLIC_KEY_NAME}\n"
        f"GRPC_TLS_CERT={grpc.cert}\nGRPC_TLS_KEY={grpc.key}\nGRPC_TLS_CA={grpc.ca}\n"
    )


def _start_kafka(layout: Layout, console: Console) -> Broker | None:
    """Start the local broker unless it runs or is external; returns it if it was started."""
    if endpoints.external_kafka():
        console.print(f"kafka: external, KAFKA_BOOTSTRAP={endpoints.kafka_bootstrap()}")
        return None
    broker = Broker(layout)
    pid = broker.pid()
    if pid is not None and broker.outdated():
        console.print(f"kafka: its configuration changed (TLS, logins): restarting pid {pid}")
        broker.stop()
    elif pid is not None:
        console.print(f"kafka: already running (pid {pid}) at {endpoints.LOCAL_KAFKA_BOOTSTRAP}")
        layout.kafka_dir.chmod(0o700)  # as start() leaves it: a data dir from before is opened
        return None
    pid, version = broker.start()
    console.print(f"kafka: started Kafka {version} (pid {pid}), log {layout.kafka_log}")
    return broker


def _wait_kafka(layout: Layout, broker: Broker | None, console: Console) -> None:
    """Wait for the broker we started (or check the running/external one), then make topics;
    on our own broker, the services' logins and ACLs too (an external one has its own)."""
    kafka = endpoints.kafka_connection()
    if broker is None:
        kafka_admin.check_reachable(kafka)
    else:
        started = time.monotonic()
        try:
            kafka_admin.wait_ready(
                kafka, KAFKA_READY_TIMEOUT_S, still_starting=lambda: broker.pid() is not None
            )
        except DevstackError as exc:
            diagnostics = broker.diagnostics()
            broker.stop()
            raise DevstackError(f"{exc}\n{diagnostics}") from exc
        console.print(f"kafka: ready at {kafka.bootstrap} after {time.monotonic() - started:.1f}s")
    if not endpoints.external_kafka():
        kafka_grants.provision(kafka, kafka_logins.ensure_passwords(layout))
    created = kafka_admin.ensure_topics(kafka)
    if created:
        console.print(f"kafka: created topics {', '.join(created)}")
    if kafka.schema_registry_url is not None:
        ids = register_schemas(kafka.schema_registry_url)
        console.print(f"registry: {len(ids)} record schemas registered (BACKWARD)")


def register_schemas(url: str) -> dict[str, int]:
    """Every record kind's schema in the registry at `url`, as the writers need it there."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from subsidy.infra import records

    try:
        return records.register(SchemaRegistryClient.new_client({"url": url}))
    except Exception as err:
        raise DevstackError(f"schema registry {records.shown_url(url)}: {err}") from None


def _up_postgres(layout: Layout, console: Console) -> bool:
    """Start the local PostgreSQL unless it runs or is external; True if it was started."""
    if endpoints.external_database():
        postgres_db.check_reachable(endpoints.database_url())
        console.print("postgres: external DATABASE_URL is reachable")
        return False
    server = PostgresServer(layout)
    running = server.pid()
    if running is not None and server.stale(running):
        console.print(f"postgres: restarting pid {running}, a build without TLS")
        server.stop()
        running = None
    if running is None:
        pid = server.start()
        console.print(f"postgres: started (pid {pid}), log {layout.postgres_log}")
    else:
        url = endpoints.LOCAL_DATABASE_URL
        console.print(f"postgres: already running (pid {running}) at {url}")
    if prepare_postgres(server, layout):
        console.print("postgres: reloaded with TLS and passwords required (hostssl, scram-sha-256)")
    return running is None


def prepare_postgres(server: PostgresServer, layout: Layout) -> bool:
    """On the running server: pg_hba.conf (TLS and passwords required) and TLS, reloaded, then
    the roles, their passwords (.run/, 0600) and the database; True if the configuration was
    upgraded (a data dir from before TLS or passwords; the superuser keeps its Unix socket)."""
    upgraded = server.upgrade_config()
    postgres_db.ensure_database(
        server.superuser_url(), layout.run / db_logins.PASSWORDS_FILE,
        port=server.port, ca=server.ca_file,
    )  # fmt: skip
    return upgraded


def up(layout: Layout, console: Console) -> None:
    """Start what is not running, wait until all of it answers, make topics and database."""
    began = time.monotonic()
    # Kafka's JVM boots while PostgreSQL starts: the two waits overlap.
    broker = _start_kafka(layout, console)
    pg_started = _up_postgres(layout, console)
    _wait_kafka(layout, broker, console)
    write_stack_env(layout)
    if broker is None and not pg_started:
        console.print("devstack: already up, nothing to do")
    else:
        console.print(f"devstack: up in {time.monotonic() - began:.1f}s; see {layout.stack_env}")


def down(layout: Layout, console: Console) -> None:
    """Stop the local Kafka and PostgreSQL if they run; external ones are left alone."""
    stopped = False
    if not endpoints.external_kafka():
        result = Broker(layout).stop()
        if result is not None:
            pid, killed = result
            console.print(f"kafka: stopped (pid {pid}){' with SIGKILL' if killed else ''}")
            stopped = True
    if not endpoints.external_database():
        pg_pid = PostgresServer(layout).stop()
        if pg_pid is not None:
            console.print(f"postgres: stopped (pid {pg_pid})")
            stopped = True
    if not stopped:
        console.print("devstack: nothing was running")


def _component_status(
    name: str,
    shown: str,
    external: bool,
    check_reachable: Callable[[], None],
    pid: int | None,
    host: str,
    port: int,
    log: str,
) -> ComponentStatus:
    """One component: an external one is only checked; our own has a pid and a port."""
    if external:
        try:
            check_reachable()
            return ComponentStatus(name, "external, reachable", shown, None, "-", True)
        except DevstackError:
            return ComponentStatus(name, "external, unreachable", shown, None, "-", False)
    listening = port_open(host, port)
    state = (
        ("running" if listening else "starting")
        if pid is not None
        else ("port taken by another process" if listening else "stopped")
    )
    return ComponentStatus(name, state, shown, pid, log, pid is not None and listening)


def _kafka_status(layout: Layout) -> ComponentStatus:
    bootstrap = endpoints.kafka_bootstrap()

    def reachable() -> None:
        kafka_admin.check_reachable(endpoints.kafka_connection(), timeout_s=5)

    return _component_status(
        "kafka", bootstrap, bool(endpoints.external_kafka()),
        reachable, Broker(layout).pid(),
        endpoints.KAFKA_HOST, endpoints.KAFKA_PORT, layout.relative(layout.kafka_log),
    )  # fmt: skip


def _postgres_status(layout: Layout) -> ComponentStatus:
    url = endpoints.database_url()
    return _component_status(
        "postgres", redact(url), bool(endpoints.external_database()),
        lambda: postgres_db.check_reachable(url, timeout_s=5), PostgresServer(layout).pid(),
        endpoints.POSTGRES_HOST, endpoints.POSTGRES_PORT, layout.relative(layout.postgres_log),
    )  # fmt: skip


def status(layout: Layout) -> list[ComponentStatus]:
    """The state of each component."""
    return [_kafka_status(layout), _postgres_status(layout)]
