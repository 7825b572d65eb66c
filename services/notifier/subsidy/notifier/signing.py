"""Webhook signatures the Standard Webhooks way (standardwebhooks): headers and secret checks."""

import base64
import binascii
import secrets as random_bytes
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
# The specification's bounds for a secret's key: fewer bytes are guessable, more are no use.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def new_secret() -> str:
    """A fresh secret: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(32)).decode("ascii")


def secret_problem(secret: str) -> str | None:
    """Why `secret` is not a usable whsec_<base64> secret, or None. The reason never quotes
    the secret (it ends up in logs and on stderr)."""
    if not secret.startswith(SECRET_PREFIX):
        return f"must be {SECRET_PREFIX}<base64>"
    try:
        # validate=True: the library's own decoding skips characters outside base64, so
        # a mistyped secret would quietly become another key.
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return f"must be {SECRET_PREFIX}<base64>: the part after {SECRET_PREFIX} is not base64"
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return f"must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes, holds {len(key)}"
    return None


def signed_headers(
    secrets: Sequence[str], webhook_id: str, at: datetime, body: bytes
) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature for one attempt: one `v1,<base64>`
    per secret, space-separated, so during a rotation a receiver holding either the old or
    the new secret verifies. `webhook_id` stays the same on every redelivery."""
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    signatures = " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(int(at.timestamp())),
        SIGNATURE_HEADER: signatures,
    }
