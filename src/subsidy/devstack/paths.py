"""Where the devstack keeps things: the repo's deploy/, .cache/ and .run/ folders."""

from dataclasses import dataclass
from pathlib import Path

from subsidy.devstack.errors import DevstackError

_MARKER = Path("deploy/local/kafka/pom.xml")


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout holding deploy/local/kafka/pom.xml: from the working directory up, else ours."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / _MARKER).is_file():
            return candidate
    # An editable install: src/subsidy/devstack/paths.py sits three levels below the root.
    source_root = Path(__file__).resolve().parents[3]
    if (source_root / _MARKER).is_file():
        return source_root
    raise DevstackError(f"cannot find {_MARKER}: run this from the project's checkout")


@dataclass(frozen=True)
class Layout:
    """The devstack's files, all below the repo root."""

    root: Path
    # Where logs, data and pid files go: .run/ unless a second stack needs its own (the
    # fault suite's private Kafka and PostgreSQL, which it restarts).
    run_dir: Path | None = None

    @property
    def pom(self) -> Path:
        return self.root / _MARKER

    @property
    def log4j(self) -> Path:
        return self.root / "deploy/local/kafka/log4j.properties"

    @property
    def cache(self) -> Path:
        return self.root / ".cache"

    @property
    def run(self) -> Path:
        return self.run_dir or self.root / ".run"

    @property
    def logs(self) -> Path:
        return self.run / "logs"

    @property
    def kafka_dir(self) -> Path:
        return self.run / "kafka"

    @property
    def kafka_log(self) -> Path:
        return self.logs / "kafka.log"

    @property
    def kafka_console(self) -> Path:
        """The JVM's own stdout/stderr (crashes, out-of-memory), apart from log4j's kafka.log."""
        return self.logs / "kafka.out"

    @property
    def kafka_pid(self) -> Path:
        return self.run / "kafka.pid"

    @property
    def postgres_dir(self) -> Path:
        return self.run / "postgres"

    @property
    def postgres_log(self) -> Path:
        return self.logs / "postgres.log"

    @property
    def postgres_pid(self) -> Path:
        return self.run / "postgres.pid"

    @property
    def tls_dir(self) -> Path:
        """The local CA and the servers' certificates (subsidy.devstack.local_ca)."""
        return self.run / "tls"

    @property
    def stack_env(self) -> Path:
        return self.run / "stack.env"

    def relative(self, path: Path) -> str:
        """path as shown to a developer: relative to the repo root."""
        return str(path.relative_to(self.root))

    def kafka_libs(self, version: str) -> Path:
        return self.cache / f"kafka-{version}" / "libs"


def layout() -> Layout:
    """The layout of the checkout we run in."""
    return Layout(find_repo_root())
