"""Anchor marks sealed by the relay, so that a mark the database's owner wrote is refused."""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from subsidy.infra.signing_keys import Signer

# HMAC, not an Ed25519 signature: only the relay checks a seal (auditors check the anchors
# themselves), and a sweep checks one per chain, where a signature check would cost ~50 µs.
_INFO = b"subsidy.ledger.anchor-mark/1"


class MarkSeal:
    """Seals (chain, seq) under a key derived from the relay's signing key: a mark raised, or
    written for a chain the relay never anchored, does not carry a valid seal without that key."""

    def __init__(self, signer: Signer) -> None:
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
        self._key = derive.derive(signer.key.private_bytes_raw())

    def seal(self, chain: str, seq: int) -> str:
        return hmac.new(self._key, f"{chain}\n{seq}".encode(), hashlib.sha256).hexdigest()

    def valid(self, chain: str, seq: int, seal: str | None) -> bool:
        return seal is not None and hmac.compare_digest(self.seal(chain, seq), seal)
