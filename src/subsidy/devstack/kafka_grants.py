"""The access table made real on a broker: the services' SCRAM logins and their ACLs."""

from collections.abc import Iterable, Mapping

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_admin import admin_client
from subsidy.infra.kafka_access import DESCRIBE, READ, SERVICES, WRITE, Grant, grants
from subsidy.infra.kafka_client import KafkaConnection

_OPERATIONS = {
    READ: ACLOperation.READ,
    WRITE: ACLOperation.WRITE,
    DESCRIBE: ACLOperation.DESCRIBE,
}
_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}


def _acl(grant: Grant) -> ACL:
    return ACL(
        principal=f"User:{grant.principal}",
        host="*",
        operation=_OPERATIONS[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            _RESOURCES[grant.resource], grant.name, ACLResourcePatternType.LITERAL
        ),
    )


def ensure_logins(kafka: KafkaConnection, passwords: Mapping[str, str]) -> None:
    """Set each principal's SCRAM-SHA-512 password (made or replaced: idempotent)."""
    admin = admin_client(kafka)
    try:
        changes = [
            UserScramCredentialUpsertion(name, ScramMechanism.SCRAM_SHA_512, password)
            for name, password in passwords.items()
        ]
        failed = {u: e for u, e in admin.alter_user_scram_credentials(changes).items() if e}
    finally:
        admin.close()
    if failed:
        raise DevstackError(f"setting Kafka logins failed: {failed}")


def grant(kafka: KafkaConnection, grants: Iterable[Grant]) -> None:
    """Add the ACLs (an ACL that exists already is left as it is)."""
    acls = [_acl(g) for g in grants]
    admin = admin_client(kafka)
    try:
        result = admin.create_acls(acls)
    finally:
        admin.close()
    if result["failed"]:
        raise DevstackError(f"creating Kafka ACLs failed: {result['failed']}")


def revoke(kafka: KafkaConnection, grants: Iterable[Grant]) -> None:
    """Remove the ACLs on these grants' topics and groups, whoever holds them."""
    filters = {
        ACLFilter(
            principal=None, host="*", operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(
                _RESOURCES[g.resource], g.name, ACLResourcePatternType.LITERAL
            ),
        )
        for g in grants
    }  # fmt: skip
    admin = admin_client(kafka)
    try:
        admin.delete_acls(list(filters))
    finally:
        admin.close()


def provision(kafka: KafkaConnection, passwords: Mapping[str, str]) -> None:
    """On a broker of our own: every service's login, and on the standard topics and groups
    exactly the table's ACLs (those there before are taken away first, so a right the table
    no longer gives does not linger)."""
    ensure_logins(kafka, {name: passwords[name] for name in SERVICES})
    revoke(kafka, grants())
    grant(kafka, grants())
