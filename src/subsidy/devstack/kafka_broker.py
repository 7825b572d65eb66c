"""The local one-node Kafka (KRaft, broker and controller in one JVM): config, start, stop."""

import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from subsidy.devstack import endpoints
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_jars import ensure_kafka_libs
from subsidy.devstack.paths import Layout
from subsidy.devstack.prereqs import find_java
from subsidy.devstack.procs import live_pid, port_open, tail, terminate, write_pid

MAIN_CLASS = "kafka.Kafka"
STOP_TIMEOUT_S = 60.0
JVM_OPTS = (
    "-Xms128m",
    "-Xmx512m",  # the machine is small; a dev broker needs little heap
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


def server_properties(
    data_dir: Path,
    port: int = endpoints.KAFKA_PORT,
    ctl: int = endpoints.KAFKA_CONTROLLER_PORT,
) -> str:
    """server.properties for one node on loopback, sized for a laptop, topics made explicitly."""
    host = endpoints.KAFKA_HOST
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "6",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "6",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.hours": "168",
    }
    lines = ["# Written by `subsidy dev up` at every start; edit kafka_broker.py, not this file."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, as Kafka makes them."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka avoids these too: they read as CLI options
            return cluster_id


@dataclass(frozen=True)
class Broker:
    """The local broker's files and ports."""

    layout: Layout
    port: int = endpoints.KAFKA_PORT
    controller_port: int = endpoints.KAFKA_CONTROLLER_PORT

    @property
    def bootstrap(self) -> str:
        return f"{endpoints.KAFKA_HOST}:{self.port}"

    @property
    def properties(self) -> Path:
        return self.layout.kafka_dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.layout.kafka_dir / "data"

    @property
    def cluster_id_file(self) -> Path:
        return self.layout.kafka_dir / "cluster.id"

    def pid(self) -> int | None:
        """The broker's pid if it runs."""
        return live_pid(self.layout.kafka_pid, str(self.properties))

    def _java(self, java: Path, libs: Path, main: str, *args: str) -> list[str]:
        return [
            str(java), *JVM_OPTS,
            f"-Dlog4j.configuration=file:{self.layout.log4j}",
            f"-Dkafka.logs.dir={self.layout.logs}",
            "-cp", f"{libs}/*", main, *args,
        ]  # fmt: skip

    def _format(self, java: Path, libs: Path) -> None:
        """Format the storage once; the cluster id is kept beside the data."""
        if (self.data_dir / "meta.properties").is_file():
            return
        if not self.cluster_id_file.is_file():
            self.cluster_id_file.write_text(new_cluster_id() + "\n")
        cluster_id = self.cluster_id_file.read_text().strip()
        command = self._java(
            java, libs, "kafka.tools.StorageTool",
            "format", "-t", cluster_id, "-c", str(self.properties),
        )  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise DevstackError(f"formatting Kafka's storage failed:\n{output}")

    def start(self) -> tuple[int, str]:
        """Start the broker detached; returns its pid and Kafka's version. Does not wait."""
        host = endpoints.KAFKA_HOST
        for busy in (self.port, self.controller_port):
            if port_open(host, busy):
                raise DevstackError(
                    f"{host}:{busy} is taken by a process that is not this checkout's Kafka; "
                    "stop it, or set KAFKA_BOOTSTRAP to use it"
                )
        java = find_java()
        version, libs = ensure_kafka_libs(self.layout)
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            server_properties(self.data_dir, self.port, self.controller_port)
        )
        self._format(java, libs)
        with self.layout.kafka_console.open("ab") as console:
            proc = subprocess.Popen(
                self._java(java, libs, MAIN_CLASS, str(self.properties)),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.layout.kafka_dir,
                start_new_session=True,  # outlives `up`, and a Ctrl-C in this terminal
            )
        write_pid(self.layout.kafka_pid, proc.pid)
        return proc.pid, version

    def stop(self) -> tuple[int, bool] | None:
        """SIGTERM the broker, SIGKILL after a deadline; its pid and whether it was killed."""
        pid = self.pid()
        if pid is not None:
            killed = terminate(pid, STOP_TIMEOUT_S)
        self.layout.kafka_pid.unlink(missing_ok=True)
        return None if pid is None else (pid, killed)

    def diagnostics(self) -> str:
        """The end of the broker's logs, for a failed start."""
        return (
            f"--- {self.layout.kafka_log}\n{tail(self.layout.kafka_log)}\n"
            f"--- {self.layout.kafka_console}\n{tail(self.layout.kafka_console, 15)}"
        )
