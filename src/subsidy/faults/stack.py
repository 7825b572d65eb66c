"""The suite's own Kafka and PostgreSQL (other ports, .run/faults/): it restarts them at will."""

import contextlib
import fcntl
import os
import shutil
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from subsidy.devstack import db_logins, kafka_admin, kafka_grants, kafka_logins, postgres_db
from subsidy.devstack.endpoints import KAFKA_HOST
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_broker import Broker
from subsidy.devstack.paths import Layout, find_repo_root
from subsidy.devstack.postgres_server import PostgresServer
from subsidy.devstack.procs import is_alive, port_open, wait_exit
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.retries import LOCAL_COMMAND

T = TypeVar("T")

# Beside the developer's stack (19092/19093, 55432), never on it: the suite kills these.
KAFKA_PORT = 29092
KAFKA_CONTROLLER_PORT = 29093
POSTGRES_PORT = 55532
READY_TIMEOUT_S = 180.0


def fault_layout(root: Path | None = None) -> Layout:
    """The checkout's layout with logs, data and pid files under .run/faults/."""
    base = root or find_repo_root()
    return Layout(base, run_dir=base / ".run" / "faults")


@dataclass
class PrivateStack:
    """A one-node Kafka and a PostgreSQL that only the suite uses."""

    layout: Layout = field(default_factory=fault_layout)

    def __post_init__(self) -> None:
        self.broker = Broker(self.layout, KAFKA_PORT, KAFKA_CONTROLLER_PORT)
        self.postgres = PostgresServer(self.layout, POSTGRES_PORT)

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def kafka(self) -> KafkaConnection:
        """The private broker as its admin."""
        kafka = kafka_logins.connection(self.layout, bootstrap=self.kafka_bootstrap)
        if kafka is None:
            raise DevstackError("the private Kafka has no logins yet: start_fresh() first")
        return kafka

    @property
    def kafka_passwords(self) -> Path:
        return kafka_logins.passwords_path(self.layout)

    @property
    def database_url(self) -> str:
        password = db_logins.read_passwords(self.passwords).get(db_logins.OWNER)
        return postgres_db.local_url(POSTGRES_PORT, password, self.postgres.ca_file)

    @property
    def passwords(self) -> Path:
        return self.layout.run / db_logins.PASSWORDS_FILE

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold .run/faults.lock for the run: a second run beside it (another `make test` in
        this checkout) would wipe and restart this one's servers, so it fails at once instead."""
        path = self.layout.run.parent / "faults.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                raise DevstackError(
                    f"another fault run holds {path} (pid {lock.read().strip() or '?'})"
                ) from None
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            yield

    def start_fresh(self) -> None:
        """Stop what an aborted earlier run left behind, wipe .run/faults/, start both."""
        self.stop()
        shutil.rmtree(self.layout.run, ignore_errors=True)
        self._start_broker()
        self.postgres.start()
        self._wait_kafka()
        kafka_grants.provision(self.kafka, kafka_logins.ensure_passwords(self.layout))
        postgres_db.ensure_database(
            self.postgres.superuser_url(), self.passwords, READY_TIMEOUT_S, POSTGRES_PORT,
            self.postgres.ca_file,
        )  # fmt: skip

    def _start_broker(self) -> int:
        # Broker.start lets go of its Popen, the broker being meant to outlive `subsidy dev up`;
        # Python warns about that (ResourceWarning), which pytest's warnings-as-errors would
        # turn into a failure. The broker is stopped by pid, as `dev down` does.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            pid, _ = self.broker.start()
        return pid

    def _wait_kafka(self, pid: int | None = None) -> None:
        """Until the broker answers; given the pid just started, it is that process that must
        stay alive meanwhile (the pid file and command line are not asked again)."""

        def starting() -> bool:
            return self.broker.pid() is not None if pid is None else is_alive(pid)

        kafka_admin.wait_ready(self.kafka, READY_TIMEOUT_S, still_starting=starting)

    def kill_kafka(self) -> tuple[int, int, float]:
        """kill -9 the broker, start it again on the same data; (old pid, new pid, seconds
        until it answered again)."""
        began = time.monotonic()
        old = self.broker.pid()
        assert old is not None, "the private Kafka is not running"
        os.kill(old, signal.SIGKILL)
        wait_exit(old, 30)
        # The JVM's pid can be gone while its last threads still hold the listening sockets.
        deadline = time.monotonic() + 30
        while port_open(KAFKA_HOST, self.broker.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        new = self._start_broker()
        self._wait_kafka(new)
        return old, new, time.monotonic() - began

    def crash_postgres(self) -> tuple[int, int, float, list[str]]:
        """Stop PostgreSQL in immediate mode (no checkpoint: the next start recovers from the
        WAL, as after a crash) and start it again; (old pid, new pid, seconds down, pg_ctl
        calls that failed and were repeated)."""
        began = time.monotonic()
        old = self.postgres.pid()
        assert old is not None, "the private PostgreSQL is not running"
        failures: list[str] = []
        self._pg_ctl(lambda: self.postgres.stop(mode="immediate"), failures)
        # A start whose pg_ctl died may have started the server all the same.
        new = self._pg_ctl(lambda: self.postgres.pid() or self.postgres.start(), failures)
        postgres_db.check_reachable(self.database_url, READY_TIMEOUT_S)
        return old, new, time.monotonic() - began, failures

    @staticmethod
    def _pg_ctl(action: Callable[[], T], failures: list[str], attempts: int = 3) -> T:
        """pg_ctl once more if it fails. It runs as another user, so Python forks for it
        without vfork, and gRPC's fork handlers run while the feed's calls are in flight; a
        rare pg_ctl has died that way before doing anything (no output, no log line)."""
        return LOCAL_COMMAND.bounded(attempts=attempts).call_sync(
            action,
            (DevstackError,),
            on_failure=lambda err: failures.append(str(err).splitlines()[0]),
            event="faults.pg_ctl_failed",
        )

    def stop(self) -> None:
        """Stop both if they run (idempotent)."""
        self.broker.stop()
        self.postgres.stop()
