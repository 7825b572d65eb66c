"""Connecting to PostgreSQL so that a failure names the server and what is wrong."""

import os
import socket
import ssl
from urllib.parse import urlsplit

import asyncpg

# Worth trying again later, the statement itself being fine: the connection or the server
# failed (a lost connection; 57P01-57P03, a restart or failover), or a concurrent transaction
# won a race (deadlock, serialization failure, a first sight of one key in two transactions).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.UniqueViolationError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    TimeoutError,
    OSError,
)

# Anything the database or the way to it may raise: a service logs it and carries on.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)

# asyncpg waits 60 s by default; a command the operator is waiting on says so sooner.
CONNECT_TIMEOUT_S = 10.0


class DatabaseUnavailable(Exception):
    """No connection was made; the message is one line naming the server and why."""


def server_of(url: str) -> str:
    """host:port of a postgresql:// URL (port 5432 when it names none), without the role or
    password."""
    hosts = urlsplit(url).netloc.rpartition("@")[2] or "localhost"
    # A port follows the last colon outside an [IPv6] literal.
    return hosts if ":" in hosts.rpartition("]")[2] else f"{hosts}:5432"


def one_line(err: BaseException) -> str:
    """The error's message on one line."""
    return " ".join(str(err).split()) or type(err).__name__


def _why_unreachable(err: OSError) -> str:
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host ({err.strerror})"
    if isinstance(err, ssl.SSLCertVerificationError):  # sslmode=verify-full, another CA
        return f"its TLS certificate is not trusted ({err.verify_message})"
    if isinstance(err, ssl.SSLError):
        return f"TLS failed ({err.reason or one_line(err)})"
    # asyncpg's own strerror repeats the address ("Connect call failed ('127.0.0.1', 1)").
    return os.strerror(err.errno) if err.errno else one_line(err)


async def connect(url: str) -> asyncpg.Connection:
    """asyncpg.connect(url); DatabaseUnavailable when the server does not answer, has no such
    database, or does not let the role in."""
    where = server_of(url)
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError as err:  # an OSError too: first
        raise DatabaseUnavailable(
            f"database unreachable at {where}: no answer within {CONNECT_TIMEOUT_S:g} s"
        ) from err
    except OSError as err:
        raise DatabaseUnavailable(
            f"database unreachable at {where}: {_why_unreachable(err)}"
        ) from err
    except asyncpg.InvalidCatalogNameError as err:
        raise DatabaseUnavailable(f"no such database on {where}: {one_line(err)}") from err
    except asyncpg.InvalidAuthorizationSpecificationError as err:  # password, unknown role, hba
        raise DatabaseUnavailable(f"authentication failed at {where}: {one_line(err)}") from err
    except asyncpg.PostgresError as err:  # starting up, too many connections, …
        raise DatabaseUnavailable(
            f"database at {where} refused the connection: {one_line(err)}"
        ) from err
