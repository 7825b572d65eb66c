"""The local PostgreSQL's access rules and TLS: pg_hba.conf, the server's certificate from the
layout's local CA, and the settings that turn TLS on."""

import os
from pathlib import Path

from subsidy.devstack.local_ca import CA_CERT, ensure_cert

PG_HBA = """\
# Written by `subsidy dev up`: only from this machine (listen_addresses=127.0.0.1), over TCP
# only with TLS (hostssl: a connection without it matches no line and is refused), every role
# with its password (scram-sha-256, kept in .run/postgres-passwords.json); the superuser only
# over the Unix socket in .run/, never over TCP.
local   all postgres              trust
local   all all                   scram-sha-256
hostssl all postgres 127.0.0.1/32 reject
hostssl all all      127.0.0.1/32 scram-sha-256
"""
TLS_CONF_NAME = "subsidy-tls.conf"
TLS_CONF = """\
# Written by `subsidy dev up`: TLS with a certificate from this checkout's local CA (.run/tls/).
# The key is a copy owned by the server's own user, mode 0600: PostgreSQL refuses to use a key
# that others may read, and the CA's folder is not the server user's to read.
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.3'
"""
INCLUDE = f"include = '{TLS_CONF_NAME}'"
CERT_NAME = "postgres"


def ca_file(tls_dir: Path) -> Path:
    """The CA certificate a client checks the server against (sslrootcert)."""
    return tls_dir / CA_CERT


def chown(path: Path, user: str | None) -> None:
    """Hand path to user (the server's, when we run as root); None: leave it ours."""
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _put(path: Path, data: bytes, user: str | None, mode: int) -> bool:
    """path holding data, owned by user with mode; True if it had to be (re)written."""
    if path.is_file() and path.read_bytes() == data:
        chown(path, user)
        path.chmod(mode)
        return False
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    chown(tmp, user)
    tmp.replace(path)
    return True


def _include_tls(conf: Path) -> bool:
    """postgresql.conf reading subsidy-tls.conf (one line appended once, the file's owner kept);
    True if it was added. `include`, not `include_if_exists`: a lost file stops the server
    rather than letting it run without TLS."""
    if INCLUDE in conf.read_text().splitlines():
        return False
    with conf.open("a") as out:
        out.write(f"\n# Added by `subsidy dev up`: TLS, see {TLS_CONF_NAME}.\n{INCLUDE}\n")
    return True


def write_config(data_dir: Path, tls_dir: Path, user: str | None) -> bool:
    """pg_hba.conf, the server's certificate and key (made by the CA in tls_dir unless fresh
    ones are there) and TLS turned on, for a server running as user; True if anything changed
    (a running server must reload then). A data dir from before TLS is upgraded this way."""
    files = ensure_cert(tls_dir, CERT_NAME)
    changed = [
        _put(data_dir / "server.crt", files.cert.read_bytes(), user, 0o644),
        _put(data_dir / "server.key", files.key.read_bytes(), user, 0o600),
        _put(data_dir / TLS_CONF_NAME, TLS_CONF.encode(), user, 0o600),
        _put(data_dir / "pg_hba.conf", PG_HBA.encode(), user, 0o600),
    ]
    # Last: postgresql.conf names the TLS settings only once their files are all there.
    changed.append(_include_tls(data_dir / "postgresql.conf"))
    return any(changed)
