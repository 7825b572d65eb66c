"""The local Kafka node, alone or one of a quorum: config, start, stop."""

# KRaft, broker and controller in one JVM.

import base64
import hashlib
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from subsidy.devstack import endpoints, kafka_logins
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_jars import ensure_kafka_libs
from subsidy.devstack.local_ca import ensure_cert
from subsidy.devstack.paths import Layout
from subsidy.devstack.prereqs import find_java
from subsidy.devstack.procs import live_pid, port_open, tail, terminate, write_pid
from subsidy.devstack.secret_store import write_secret_file
from subsidy.infra.kafka_access import ADMIN

MAIN_CLASS = "kafka.Kafka"
# The broker's certificate name: its principal on the controller listener, a super user.
BROKER_NAME = "kafka"
# Written once the storage is formatted with the admin's SCRAM login, holding a digest of that
# password: storage from before logins (no marker), or whose admin password was since lost
# (another digest: the broker could not log in to itself), is remade.
SECURED_MARKER = "scram-bootstrapped"
STOP_TIMEOUT_S = 60.0
HEAP = ("-Xms128m", "-Xmx512m")  # the machine is small; a dev broker needs little heap
JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class BrokerSecurity:
    """What the broker needs to speak TLS and check SCRAM logins: its key and certificate
    chain in one PEM file, the CA it trusts, and the admin's password (its own login)."""

    keystore: Path
    truststore: Path
    admin_password: str


def _security_settings(security: BrokerSecurity) -> dict[str, str]:
    """Clients: SCRAM-SHA-512 over TLS. The controller listener: TLS with a client
    certificate (SCRAM cannot guard it: the credentials live in the metadata it serves), so
    only this broker, by its certificate, reaches it. No ACL, no access (super users aside)."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{security.admin_password}";'
    )
    return {
        "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(security.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(security.truststore),
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{BROKER_NAME};User:{ADMIN}",
    }


def _replication(replicas: int) -> dict[str, str]:
    """Every topic's, the internal ones' too: `replicas` copies, of which all but one (at
    least one) must have a write before it counts, so one node may be away."""
    isr = str(max(1, replicas - 1))
    return {
        "default.replication.factor": str(replicas),
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": isr,
    }


def server_properties(
    data_dir: Path,
    security: BrokerSecurity,
    port: int = endpoints.KAFKA_PORT,
    ctl: int = endpoints.KAFKA_CONTROLLER_PORT,
    quorum: tuple[tuple[int, int], ...] = (),
    node_id: int = 1,
) -> str:
    """server.properties for one node on loopback, sized for a laptop, topics made explicitly.
    `quorum`: every node as (node id, controller port), each a voter and a broker, topics
    replicated to all; empty, this node alone (the devstack's)."""
    host = endpoints.KAFKA_HOST
    voters = ",".join(f"{n}@{host}:{c}" for n, c in quorum or ((node_id, ctl),))
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"SASL_SSL://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        **_security_settings(security),
        "log.dirs": str(data_dir),
        "num.partitions": "6",
        **_replication(len(quorum) or 1),
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
    """The local broker's files and ports. One node of a quorum keeps its files under
    kafka/node-<id>/ and logs/kafka-<id>/, all nodes one cluster id, CA and admin login."""

    layout: Layout
    port: int = endpoints.KAFKA_PORT
    controller_port: int = endpoints.KAFKA_CONTROLLER_PORT
    node_id: int = 1
    quorum: tuple[tuple[int, int], ...] = ()  # every node's (id, controller port); () alone
    heap: tuple[str, ...] = HEAP

    @property
    def bootstrap(self) -> str:
        return f"{endpoints.KAFKA_HOST}:{self.port}"

    @property
    def home(self) -> Path:
        kafka = self.layout.kafka_dir
        return kafka / f"node-{self.node_id}" if self.quorum else kafka

    @property
    def logs(self) -> Path:
        return self.layout.logs / f"kafka-{self.node_id}" if self.quorum else self.layout.logs

    @property
    def log(self) -> Path:
        """log4j's kafka.log (deploy/local/kafka/log4j.properties)."""
        return self.logs / "kafka.log" if self.quorum else self.layout.kafka_log

    @property
    def console(self) -> Path:
        return self.logs / "kafka.out" if self.quorum else self.layout.kafka_console

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid" if self.quorum else self.layout.kafka_pid

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def cluster_id_file(self) -> Path:
        return self.layout.kafka_dir / "cluster.id"  # one for the whole quorum

    def security(self) -> BrokerSecurity:
        """The broker's certificate (made by the local CA) and the admin's password."""
        cert = ensure_cert(self.layout.tls_dir, BROKER_NAME, client=True)
        keystore = self.layout.tls_dir / f"{BROKER_NAME}-keystore.pem"
        write_secret_file(keystore, cert.key.read_text() + cert.cert.read_text())
        admin_password = kafka_logins.ensure_passwords(self.layout)[ADMIN]
        return BrokerSecurity(keystore, cert.ca, admin_password)

    def rendered(self, security: BrokerSecurity) -> str:
        """The server.properties this broker runs with."""
        return server_properties(
            self.data_dir, security, self.port, self.controller_port, self.quorum, self.node_id
        )

    def outdated(self) -> bool:
        """True if the running broker's properties are not what this code would write."""
        return not self.properties.is_file() or (
            self.properties.read_text() != self.rendered(self.security())
        )

    def pid(self) -> int | None:
        """The broker's pid if it runs."""
        return live_pid(self.pid_file, str(self.properties))

    def _java(self, java: Path, libs: Path, main: str, *args: str) -> list[str]:
        return [
            str(java), *self.heap, *JVM_OPTS,
            f"-Dlog4j.configuration=file:{self.layout.log4j}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp", f"{libs}/*", main, *args,
        ]  # fmt: skip

    def _format(self, java: Path, libs: Path, admin_password: str) -> None:
        """Format the storage once, with the admin's SCRAM login in its first metadata (the
        broker checks logins from the start, so no other way in exists); the cluster id is
        kept beside the data. Storage from before logins is remade: it holds dev data only."""
        marker = self.home / SECURED_MARKER
        digest = hashlib.sha256(admin_password.encode()).hexdigest()
        if (self.data_dir / "meta.properties").is_file():
            if marker.is_file() and marker.read_text().strip() == digest:
                return
            shutil.rmtree(self.data_dir)
            self.data_dir.mkdir(parents=True)
        if not self.cluster_id_file.is_file():
            self.cluster_id_file.write_text(new_cluster_id() + "\n")
        cluster_id = self.cluster_id_file.read_text().strip()
        scram = f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"
        command = self._java(
            java, libs, "kafka.tools.StorageTool",
            "format", "-t", cluster_id, "-c", str(self.properties), "--add-scram", scram,
        )  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise DevstackError(f"formatting Kafka's storage failed:\n{output}")
        marker.write_text(digest + "\n")

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
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Its data holds every record and the SCRAM keys: no other user may read it.
        self.layout.kafka_dir.chmod(0o700)
        self.home.chmod(0o700)
        security = self.security()
        write_secret_file(self.properties, self.rendered(security))
        self._format(java, libs, security.admin_password)
        with self.console.open("ab") as console:
            proc = subprocess.Popen(
                self._java(java, libs, MAIN_CLASS, str(self.properties)),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,  # outlives `up`, and a Ctrl-C in this terminal
            )
        write_pid(self.pid_file, proc.pid)
        return proc.pid, version

    def stop(self) -> tuple[int, bool] | None:
        """SIGTERM the broker, SIGKILL after a deadline; its pid and whether it was killed."""
        pid = self.pid()
        if pid is not None:
            killed = terminate(pid, STOP_TIMEOUT_S)
        self.pid_file.unlink(missing_ok=True)
        return None if pid is None else (pid, killed)

    def diagnostics(self) -> str:
        """The end of the broker's logs, for a failed start."""
        return f"--- {self.log}\n{tail(self.log)}\n--- {self.console}\n{tail(self.console, 15)}"
