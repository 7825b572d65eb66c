"""The local stack's certificate authority: a CA and a certificate per server, in .run/tls/."""

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from subsidy.devstack.secret_store import write_secret_file

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
CA_NAME = "subsidy local CA"
# A checkout's CA outlives its leaves; a leaf is remade once it is this close to expiring.
CA_DAYS = 3650
LEAF_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# The certificate the local gRPC servers serve (the main job's and those run by hand).
GRPC_CERT_NAME = "grpc"


@dataclass(frozen=True, slots=True)
class CertFiles:
    """A server's certificate (PEM, leaf then CA) and its private key (PKCS#8 PEM, 0600)."""

    cert: Path
    key: Path
    ca: Path


def ca_path(directory: Path) -> Path:
    """The CA certificate in directory (a layout's tls_dir): what a client checks the local
    servers against (PostgreSQL's sslrootcert, Kafka's ssl cafile)."""
    return directory / CA_CERT


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _fresh(path: Path) -> bool:
    """True if path holds a certificate that is not about to expire."""
    if not path.is_file():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(ca_path(directory).read_bytes())
    key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True,
    crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip


def ensure_ca(directory: Path) -> Path:
    """The CA's certificate in directory, made (with its key) unless a fresh one is there."""
    cert_path = ca_path(directory)
    if _fresh(cert_path) and (directory / CA_KEY).is_file():
        return cert_path
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    write_secret_file(directory / CA_KEY, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path


def _alt_names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def ensure_cert(
    directory: Path, name: str, hosts: tuple[str, ...] = LOCAL_HOSTS, client: bool = False
) -> CertFiles:
    """<name>.pem and <name>-key.pem in directory, signed by its CA, valid for hosts (and, with
    client=True, as a client certificate too); made unless a fresh pair signed by it is there."""
    ca = ensure_ca(directory)
    files = CertFiles(directory / f"{name}.pem", directory / f"{name}-key.pem", ca)
    ca_cert, ca_key = _load_ca(directory)
    if _fresh(files.cert) and files.key.is_file() and _signed_by(files.cert, ca_cert):
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] * client)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_secret_file(files.key, _key_pem(key))
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.read_bytes()
    files.cert.write_bytes(chain)
    return files


def _signed_by(cert_path: Path, ca_cert: x509.Certificate) -> bool:
    """True if the first certificate in cert_path was issued by ca_cert (a remade CA voids it)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
