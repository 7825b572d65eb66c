"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", and their verification."""

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="
TIMESTAMP_HEADER = "X-Subsidy-Timestamp"
SIGNATURE_HEADER = "X-Subsidy-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Subsidy-Signature value: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">.

    The timestamp is inside the MAC so a captured request cannot be replayed later with a
    fresh timestamp; receivers reject timestamps far from their clock."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: float = 300,
) -> bool:
    """What a receiver does: constant-time compare, and a timestamp within the tolerance."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
