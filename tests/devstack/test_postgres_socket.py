"""The local PostgreSQL's Unix socket, where the superuser needs no password, is private."""

# It is the server's user's alone: its folder and the socket are 0700, another local user is refused
# by the kernel, the devstack (root, or the user the server runs as) still gets in; a server started
# before that is closed by `subsidy dev up` without a restart.

import asyncio
import os
import pwd
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from subsidy.devstack.errors import DevstackError
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_server import PostgresServer, private_dir, system_user
from subsidy.devstack.stack import prepare_postgres

# Another local user, without any say over the server.
STRANGER = "nobody"
AS_ROOT = os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of its own, started and prepared as `subsidy dev up` does; stopped at the end.
    Not pytest's tmp_path: as root, postgres runs as another user, who must reach the folder,
    and so may the stranger, up to the socket's folder."""
    root = Path(tempfile.mkdtemp(prefix="subsidy-pg-sock-"))
    root.chmod(0o755)
    server = PostgresServer(Layout(root, run_dir=root / "run"), _free_port())
    try:
        server.start()
        prepare_postgres(server, server.layout)
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _socket(server: PostgresServer) -> Path:
    return server.socket_dir() / f".s.PGSQL.{server.port}"


async def _whoami(url: str) -> str:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return str(await conn.fetchval("SELECT current_user"))
    finally:
        await conn.close()


def _connect_as(user: str, url: str) -> str:
    """Log in to url from a child process running as user: "connected as <role>", or the
    name of the error. A fork, not a new interpreter: ours may be in a folder user cannot
    read (root's home)."""
    entry = pwd.getpwnam(user)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.environ["HOME"] = "/nonexistent"  # root's ~/.postgresql is not theirs to read
            result = f"connected as {asyncio.run(_whoami(url))}"
        except BaseException as exc:  # reported to the parent, whatever it is
            result = f"{type(exc).__name__}: {exc}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        result = pipe.read().decode()
    os.waitpid(pid, 0)
    return result


def _server_user(server: PostgresServer) -> str:
    return system_user(server.bin_dir()) or pwd.getpwuid(os.geteuid()).pw_name


def test_the_socket_and_its_folder_are_the_servers_users_alone(server: PostgresServer) -> None:
    owner = pwd.getpwnam(_server_user(server)).pw_uid
    folder = server.socket_dir().lstat()
    assert stat.S_ISDIR(folder.st_mode)
    assert (stat.S_IMODE(folder.st_mode), folder.st_uid) == (0o700, owner)
    sock = _socket(server).lstat()
    assert stat.S_ISSOCK(sock.st_mode)
    assert (stat.S_IMODE(sock.st_mode), sock.st_uid) == (0o700, owner)
    assert asyncio.run(_whoami(server.superuser_url())) == "postgres"  # the devstack gets in
    # The server makes it so itself at every start (subsidy-tls.conf), not only our chmod.
    assert asyncio.run(_show(server, "unix_socket_permissions")) == "0700"


async def _show(server: PostgresServer, setting: str) -> str:
    conn = await asyncpg.connect(server.superuser_url(), timeout=10)
    try:
        return str(await conn.fetchval(f"SHOW {setting}"))
    finally:
        await conn.close()


@pytest.mark.skipif(not AS_ROOT, reason="switching to another user needs root")
def test_another_local_user_is_refused_the_server_user_is_not(server: PostgresServer) -> None:
    url = server.superuser_url()
    assert _connect_as(STRANGER, url).startswith("PermissionError")
    # The same fork, as the server's own user: the refusal is the permissions', not the fork's.
    assert _connect_as(_server_user(server), url) == "connected as postgres"


@pytest.mark.skipif(not AS_ROOT, reason="switching to another user needs root")
def test_a_server_with_an_open_socket_is_closed_by_dev_up(server: PostgresServer) -> None:
    """As a server started before unix_socket_permissions was ours: folder 0755, socket
    0777, anyone could log in as the superuser; `subsidy dev up` closes it while it runs."""
    server.socket_dir().chmod(0o755)
    _socket(server).chmod(0o777)
    url = server.superuser_url()
    assert _connect_as(STRANGER, url) == "connected as postgres"  # the hole, as it was

    prepare_postgres(server, server.layout)
    assert _connect_as(STRANGER, url).startswith("PermissionError")
    assert asyncio.run(_whoami(url)) == "postgres"


@pytest.mark.skipif(not AS_ROOT, reason="a folder of another user's needs root to make")
def test_a_socket_folder_another_user_made_is_refused(tmp_path: Path) -> None:
    """The socket's folder may be in /tmp, where anyone may have made it first."""
    folder = tmp_path / "subsidy-pg-taken"
    folder.mkdir(mode=0o777)
    stranger = pwd.getpwnam(STRANGER)
    os.chown(folder, stranger.pw_uid, stranger.pw_gid)
    with pytest.raises(DevstackError, match="not a folder of this user's or the server's"):
        private_dir(folder, None)
    assert folder.stat().st_uid == stranger.pw_uid  # not taken over
