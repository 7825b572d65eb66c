"""The suite's own Kafka and PostgreSQL, which it kills and restarts at will."""

# Kafka is one node, or a quorum of three; both are on other ports and in .run/faults/
# (.run/faults-cluster/).

import contextlib
import fcntl
import os
import shutil
import signal
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from subsidy.devstack import db_logins, kafka_admin, kafka_grants, kafka_logins, postgres_db
from subsidy.devstack.endpoints import KAFKA_HOST
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_broker import HEAP, Broker
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


@dataclass(frozen=True)
class Place:
    """Where a private stack lives: its folder under .run/, its ports (node i of the Kafka
    quorum listens on kafka_port + 2i, its controller one above), its Kafka nodes and their
    heap."""

    name: str = "faults"
    kafka_port: int = KAFKA_PORT
    postgres_port: int = POSTGRES_PORT
    nodes: int = 1
    heap: tuple[str, ...] = HEAP


# The cluster suite's: three nodes of 256 MiB each, beside the one-node suite's ports.
CLUSTER = Place("faults-cluster", 29192, 55632, 3, ("-Xms256m", "-Xmx256m"))


def fault_layout(root: Path | None = None, name: str = "faults") -> Layout:
    """The checkout's layout with logs, data and pid files under .run/<name>/."""
    base = root or find_repo_root()
    return Layout(base, run_dir=base / ".run" / name)


def brokers(layout: Layout, place: Place) -> list[Broker]:
    """The place's Kafka nodes: one alone as the devstack's, or a quorum of `nodes`."""
    if place.nodes == 1:
        return [Broker(layout, place.kafka_port, place.kafka_port + 1, heap=place.heap)]
    ports = [(place.kafka_port + 2 * i, place.kafka_port + 2 * i + 1) for i in range(place.nodes)]
    quorum = tuple((i + 1, ctl) for i, (_, ctl) in enumerate(ports))
    return [Broker(layout, port, ctl, i + 1, quorum, place.heap)
            for i, (port, ctl) in enumerate(ports)]  # fmt: skip


@dataclass
class PrivateStack:
    """A Kafka (one node or a quorum) and a PostgreSQL that only the suite uses."""

    layout: Layout = field(default_factory=fault_layout)
    place: Place = field(default_factory=Place)

    @classmethod
    def at(cls, place: Place) -> "PrivateStack":
        """The stack of `place`, in the checkout's .run/<place.name>/."""
        return cls(fault_layout(name=place.name), place)

    def __post_init__(self) -> None:
        self.brokers = brokers(self.layout, self.place)
        self.postgres = PostgresServer(self.layout, self.place.postgres_port)

    @property
    def broker(self) -> Broker:
        """The first node (the only one of a one-node stack)."""
        return self.brokers[0]

    @property
    def replicas(self) -> int:
        """Copies of each topic: one on every node."""
        return len(self.brokers)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

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
        return postgres_db.local_url(self.place.postgres_port, password, self.postgres.ca_file)

    @property
    def passwords(self) -> Path:
        return self.layout.run / db_logins.PASSWORDS_FILE

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold .run/<name>.lock for the run: a second run beside it (another `make test` in
        this checkout) would wipe and restart this one's servers, so it fails at once instead."""
        path = self.layout.run.parent / f"{self.place.name}.lock"
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
        """Stop what an aborted earlier run left behind, wipe .run/<name>/, start both."""
        self.stop()
        shutil.rmtree(self.layout.run, ignore_errors=True)
        for broker in self.brokers:
            self._start_broker(broker)
        self.postgres.start()
        for broker in self.brokers:
            self._wait_kafka(broker)
        self._wait_quorum()
        kafka_grants.provision(self.kafka, kafka_logins.ensure_passwords(self.layout))
        postgres_db.ensure_database(
            self.postgres.superuser_url(), self.passwords, READY_TIMEOUT_S,
            self.place.postgres_port, self.postgres.ca_file,
        )  # fmt: skip

    @staticmethod
    def _start_broker(broker: Broker) -> int:
        # Broker.start lets go of its Popen, the broker being meant to outlive `subsidy dev up`;
        # Python warns about that (ResourceWarning), which pytest's warnings-as-errors would
        # turn into a failure. The broker is stopped by pid, as `dev down` does.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            pid, _ = broker.start()
        return pid

    def _wait_kafka(self, broker: Broker, pid: int | None = None) -> None:
        """Until the node answers on its own port; given the pid just started, it is that
        process that must stay alive meanwhile (the pid file and command line are not asked
        again)."""

        def starting() -> bool:
            return broker.pid() is not None if pid is None else is_alive(pid)

        alone = replace(self.kafka, bootstrap=broker.bootstrap)
        kafka_admin.wait_ready(alone, READY_TIMEOUT_S, still_starting=starting)

    def _wait_quorum(self) -> None:
        """Until every node is a registered broker: a topic with a copy on each needs all."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(self.leaders(all_brokers=True)) < len(self.brokers):
            if time.monotonic() > deadline:
                raise DevstackError(f"not all {len(self.brokers)} Kafka nodes joined the cluster")
            time.sleep(0.5)

    def leaders(self, all_brokers: bool = False) -> Counter[int]:
        """Partitions led by each node id, over every topic (the internal ones too: the
        consumer groups' coordinators); with `all_brokers`, every registered, unfenced node
        counted once instead."""
        admin = kafka_admin.admin_client(self.kafka)
        try:
            if all_brokers:
                brokers = admin.describe_cluster()["brokers"]
                return Counter(b["broker_id"] for b in brokers if not b.get("is_fenced"))
            return Counter(p["leader_id"] for t in admin.describe_topics()
                           for p in t["partitions"] if p["leader_id"] >= 0)  # fmt: skip
        finally:
            admin.close()

    def kill_kafka(
        self, broker: Broker | None = None, down_s: float = 0.0
    ) -> tuple[int, int, float]:
        """kill -9 a node (the only one by default), start it again on the same data after
        `down_s`; (old pid, new pid, seconds until it answered again)."""
        broker = broker or self.broker
        began = time.monotonic()
        old = broker.pid()
        assert old is not None, f"the private Kafka node {broker.node_id} is not running"
        os.kill(old, signal.SIGKILL)
        wait_exit(old, 30)
        # The JVM's pid can be gone while its last threads still hold the listening sockets.
        deadline = time.monotonic() + 30
        while port_open(KAFKA_HOST, broker.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(max(0.0, began + down_s - time.monotonic()))
        new = self._start_broker(broker)
        self._wait_kafka(broker, new)
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
        """Stop Kafka and PostgreSQL if they run (idempotent). The nodes of a quorum all at
        once: one by one, the last would wait out its deadline for a controlled shutdown the
        quorum, gone with the others, can no longer grant."""
        with ThreadPoolExecutor(len(self.brokers)) as pool:
            list(pool.map(Broker.stop, self.brokers))
        self.postgres.stop()
