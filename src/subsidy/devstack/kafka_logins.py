"""The local broker's SCRAM logins: the admin's and each service's, kept in .run/ (0600)."""

import secrets
from pathlib import Path

from subsidy.devstack.endpoints import LOCAL_KAFKA_BOOTSTRAP
from subsidy.devstack.local_ca import ca_path
from subsidy.devstack.paths import Layout
from subsidy.devstack.secret_store import read_secrets, write_secrets
from subsidy.infra.kafka_access import ADMIN, SERVICES
from subsidy.infra.kafka_client import KafkaConnection

PASSWORDS_FILE = "kafka-passwords.json"
PRINCIPALS = (ADMIN, *SERVICES)


def passwords_path(layout: Layout) -> Path:
    """The layout's .run/kafka-passwords.json."""
    return layout.run / PASSWORDS_FILE


def ensure_passwords(layout: Layout) -> dict[str, str]:
    """Every principal's password, generated once and kept (0600)."""
    path = passwords_path(layout)
    kept = read_secrets(path)
    wanted = {name: kept.get(name) or secrets.token_urlsafe(24) for name in PRINCIPALS}
    if wanted != kept:
        write_secrets(path, wanted)
    return wanted


def connection(
    layout: Layout, principal: str = ADMIN, bootstrap: str = LOCAL_KAFKA_BOOTSTRAP
) -> KafkaConnection | None:
    """The local broker as principal (SCRAM over TLS, the layout's CA), or None when the
    stack has made no passwords (it was never brought up)."""
    password = read_secrets(passwords_path(layout)).get(principal)
    if password is None:
        return None
    return KafkaConnection(
        bootstrap=bootstrap, username=principal, password=password, cafile=ca_path(layout.tls_dir)
    )
