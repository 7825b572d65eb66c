"""Principals: who holds which bearer tokens and what each may submit."""

# Read from one JSON setting per service (INGEST_CREDENTIALS, LEDGER_API_AUDITOR_TOKENS).

import json
import re
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic_settings import NoDecode

from subsidy.domain.events import PayloadType

# Long enough that guessing one is hopeless; `secrets.token_urlsafe(24)` gives 32 characters.
MIN_TOKEN_LENGTH = 24

_DIGEST = re.compile(r"^[0-9a-f]{64}$")

# A principal's name: it is logged, stored with every event it submits and shown by `ledger
# explain`, so it is short and plain (e.g. `js-provincial-cert-feed`, `reviewer-wang`).
PrincipalName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class Grant(BaseModel):
    """One principal's credentials: its tokens, or only their SHA-256 digests (a server then
    never holds the token). Several, so that a new token can be rolled out before the old
    one is withdrawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[SecretStr, ...] = ()
    token_sha256: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _usable(self) -> Self:
        # The messages never quote a token: they end up in logs.
        for n, token in enumerate(self.tokens, start=1):
            value = token.get_secret_value()
            if len(value) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"token #{n} is shorter than {MIN_TOKEN_LENGTH} characters (make one with"
                    " `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
                )
            if re.search(r"\s", value):
                raise ValueError(f"token #{n} contains whitespace")
        for n, digest in enumerate(self.token_sha256, start=1):
            if not _DIGEST.fullmatch(digest):
                raise ValueError(
                    f"token_sha256 #{n} is not 64 lower-case hex digits"
                    " (`printf %s TOKEN | sha256sum`)"
                )
        if not self.tokens and not self.token_sha256:
            raise ValueError("give `tokens` or `token_sha256` (at least one)")
        return self


class WriterGrant(Grant):
    """A submitter: its credentials, the event types (payload names, e.g.
    `certificationObtained`) and the `source` values it may submit. A reviewer is a writer
    bound to `reviewDecided` only."""

    event_types: frozenset[PayloadType] = Field(min_length=1)
    sources: frozenset[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1
    )


def _json(value: object) -> object:
    """The JSON text of the setting, decoded here (not by pydantic-settings, whose error would
    name no setting); keywords may give the mapping itself."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("not JSON: principal → {tokens | token_sha256, …}") from None
    return value


# The settings' types: principal → grant, as JSON in one secret variable, e.g.
# {"invoice-portal": {"token_sha256": ["…"], "event_types": ["computeInvoiceFiled"],
#                     "sources": ["invoice-portal"]}}
Writers = Annotated[
    dict[PrincipalName, WriterGrant], NoDecode, BeforeValidator(_json), Field(min_length=1)
]
Readers = Annotated[
    dict[PrincipalName, Grant], NoDecode, BeforeValidator(_json), Field(min_length=1)
]
