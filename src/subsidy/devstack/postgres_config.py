"""The local PostgreSQL's pg_hba.conf, TLS files, and settings for TLS and a private socket."""

from pathlib import Path

from subsidy.devstack.local_ca import ensure_cert
from subsidy.devstack.secret_store import write_secret_file

PG_HBA = """\
# Written by `subsidy dev up`: only from this machine (listen_addresses=127.0.0.1), over TCP
# only with TLS (hostssl: a connection without it matches no line and is refused), every role
# with its password (scram-sha-256, kept in .run/postgres-passwords.json); the superuser only
# over the Unix socket, never over TCP. `trust` there is safe only because nobody but the
# server's own user (and root) may reach the socket: its folder is 0700 and the socket 0700
# (unix_socket_permissions in subsidy-tls.conf).
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
# The superuser logs in over the Unix socket without a password (pg_hba.conf): only the
# server's user (and root) may connect to it. Read at start only; `subsidy dev up` tightens
# the socket of a server that runs already (postgres_server.secure_socket).
unix_socket_permissions = 0700
"""
INCLUDE = f"include = '{TLS_CONF_NAME}'"
CERT_NAME = "postgres"


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
    # All of them the server's user's, 0600: the key must be (PostgreSQL refuses it otherwise),
    # and the rest is nobody else's business either.
    changed = [
        write_secret_file(data_dir / "server.crt", files.cert.read_bytes(), user),
        write_secret_file(data_dir / "server.key", files.key.read_bytes(), user),
        write_secret_file(data_dir / TLS_CONF_NAME, TLS_CONF, user),
        write_secret_file(data_dir / "pg_hba.conf", PG_HBA, user),
    ]
    # Last: postgresql.conf names the TLS settings only once their files are all there.
    changed.append(_include_tls(data_dir / "postgresql.conf"))
    return any(changed)
