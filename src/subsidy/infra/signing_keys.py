"""Ed25519 keys of the ledger: PEM files loaded, key ids, key pairs made, signatures checked."""

# PEM files are checked as they load. The ledger signs with the private key; auditors and the
# notifier hold the public one.

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_NAME = "ledger-signing.pem"
PUBLIC_KEY_NAME = "ledger-signing.pub.pem"
# The Kafka headers of a signed record: the raw 64-byte signature over the exact value bytes,
# and the id of the key that made it.
SIGNATURE_HEADER = "subsidy-signature"
KEY_ID_HEADER = "subsidy-key-id"
# An appeal notice's signature is over this prefix and the value, a decision's over the value
# alone: neither signature checks as the other, so a signed record copied from one topic to
# the other is refused (no protobuf the ledger writes begins with "s", a group's tag).
APPEAL_NOTICE_CONTEXT = b"subsidy.appeal-notice.v1\n"


class KeyFileError(ValueError):
    """A key file that is missing, unreadable or not an Ed25519 key of the expected kind."""


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of sha256 over the raw public key: names the key in anchors and
    headers, so a rotated key is told apart from the old one."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise KeyFileError(f"cannot read {path}: {err.strerror or err}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted PKCS#8 PEM Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A SubjectPublicKeyInfo PEM Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(_read(path))
    except (ValueError, TypeError) as err:
        raise KeyFileError(f"{path} is not a PEM public key: {err}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key and its id: what signs anchors and decisions."""

    key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def from_file(cls, path: Path) -> "Signer":
        key = load_private_key(path)
        return cls(key, key_id(key.public_key()))

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def sign_b64(self, data: bytes) -> str:
        return base64.b64encode(self.sign(data)).decode("ascii")


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key and its id: what checks them."""

    key: Ed25519PublicKey
    key_id: str

    @classmethod
    def from_file(cls, path: Path) -> "Verifier":
        key = load_public_key(path)
        return cls(key, key_id(key))

    def valid(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def write_key_pair(directory: Path) -> tuple[Path, Path]:
    """A new key pair in `directory`: the private key readable by its owner only (0600, created
    so, never widened afterwards), the public key world-readable. Refuses to overwrite."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_KEY_NAME, directory / PUBLIC_KEY_NAME
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path.write_bytes(public_pem)
    return private_path, public_path


def readable_private_key(value: Path | None) -> Path | None:
    """A settings validator: the private key file loads, or a ValueError saying why."""
    if value is not None:
        try:
            Signer.from_file(value)
        except KeyFileError as err:
            raise ValueError(str(err)) from None
    return value
