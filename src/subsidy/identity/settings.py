"""Settings of sessions: the portal's signing key and the public key the services verify with."""

# PORTAL_SESSION_PRIVATE_KEY and SESSION_PUBLIC_KEY.

from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import AfterValidator, AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from subsidy.identity.sessions import load_private_key, load_public_key


def _public_pem(value: str | None) -> str | None:
    if value is not None:
        load_public_key(value)  # ValueError naming what is wrong, never the key
    return value


# A settings field: the Ed25519 public key (PEM) sessions are verified with; None: the
# service accepts no session token (machines' static tokens only).
SessionPublicKey = Annotated[str | None, AfterValidator(_public_pem)]

# The variable every service reads it from (no service prefix: one key for all of them).
SESSION_PUBLIC_KEY_ENV = AliasChoices("SESSION_PUBLIC_KEY", "session_public_key")


def public_key_of(value: str | None) -> Ed25519PublicKey | None:
    """The key of a SessionPublicKey field."""
    return None if value is None else load_public_key(value)


class SessionSigningSettings(BaseSettings):
    """What the portal signs sessions with: PORTAL_SESSION_PRIVATE_KEY (PEM, a secret, no
    default) and PORTAL_SESSION_TTL_S (how long a session lasts, 60…3600 s, 900 unless set)."""

    # A refused key must never be echoed into a log.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    session_private_key: SecretStr = Field(
        validation_alias=AliasChoices("PORTAL_SESSION_PRIVATE_KEY", "session_private_key")
    )
    session_ttl_s: int = Field(
        900, ge=60, le=3600,
        validation_alias=AliasChoices("PORTAL_SESSION_TTL_S", "session_ttl_s"),
    )  # fmt: skip

    @field_validator("session_private_key")
    @classmethod
    def _ed25519(cls, value: SecretStr) -> SecretStr:
        load_private_key(value.get_secret_value())
        return value

    def private_key(self) -> Ed25519PrivateKey:
        """The signing key."""
        return load_private_key(self.session_private_key.get_secret_value())
