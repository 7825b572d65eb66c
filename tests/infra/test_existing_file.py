"""Every settings field that names a file refuses, when read, a path with no file there."""

# The common settings' policy files and Kafka CA, a gRPC server's certificate, key and client CA,
# the portal's certificate, key and gRPC CA.

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from subsidy.identity.sessions import key_pair_pem
from subsidy.infra.grpc_tls import GrpcServerSettings
from subsidy.infra.settings import CommonSettings
from subsidy.portal.settings import PortalSettings

# What each class needs besides the file (the portal: its login and signing key, no TLS).
_PORTAL = {
    "database_url": "postgresql://portal@127.0.0.1/subsidy?sslmode=verify-full",
    "session_private_key": key_pair_pem()[0],
    "plaintext": True,
}
FILE_FIELDS: list[tuple[type[BaseSettings], str, dict[str, Any]]] = [
    (CommonSettings, "policy_catalog", {}),
    (CommonSettings, "policy_overlay", {}),
    (CommonSettings, "kafka_ssl_cafile", {}),
    (GrpcServerSettings, "grpc_tls_client_ca", {}),
    (GrpcServerSettings, "grpc_tls_cert", {}),
    (GrpcServerSettings, "grpc_tls_key", {}),
    (PortalSettings, "grpc_ca", _PORTAL),
    (PortalSettings, "tls_cert", _PORTAL),
    (PortalSettings, "tls_key", _PORTAL),
    (PortalSettings, "kafka_ssl_cafile", _PORTAL),
]


@pytest.mark.parametrize(("settings", "field", "others"), FILE_FIELDS)
def test_a_path_with_no_file_is_refused_naming_the_field(
    tmp_path: Path, settings: type[BaseSettings], field: str, others: dict[str, Any]
) -> None:
    for path in (tmp_path / "missing.pem", tmp_path):  # nothing there; a directory
        with pytest.raises(ValidationError) as refused:
            settings.model_validate({**others, field: str(path)})
        errors = [e for e in refused.value.errors() if e["loc"] == (field,)]
        assert [e["msg"] for e in errors] == [f"Value error, no such file: {path}"]


@pytest.mark.parametrize("settings", [CommonSettings, GrpcServerSettings, PortalSettings])
def test_files_are_taken_as_their_paths(tmp_path: Path, settings: type[BaseSettings]) -> None:
    present = tmp_path / "present.pem"
    present.write_text("not read here\n")
    fields = [field for cls, field, _ in FILE_FIELDS if cls is settings]
    # Every file field at once: a certificate goes with its key, a client CA with both, and
    # the portal with a certificate serves HTTPS (so it is not plaintext).
    values = {**_PORTAL, "plaintext": False} if settings is PortalSettings else {}
    read = settings.model_validate({**values, **dict.fromkeys(fields, str(present))})
    assert {field: getattr(read, field) for field in fields} == dict.fromkeys(fields, present)
