"""The local PostgreSQL's programs, fetched once from Maven Central and built with OpenSSL."""

# Fetched by deploy/local/postgres/pom.xml into .cache/postgres-VERSION/, built with OpenSSL so that
# the server can speak TLS.

import hashlib
import platform
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from subsidy.devstack.errors import DevstackError
from subsidy.devstack.paths import Layout, find_repo_root
from subsidy.devstack.prereqs import find_maven

POM = Path("deploy/local/postgres/pom.xml")
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_STAMP = "pom.sha256"  # which pom (and platform) filled the folder: editing the pom fetches again
# The zonky bundles by machine (Linux only: the devstack reads /proc).
_PLATFORMS = {"x86_64": "linux-amd64", "aarch64": "linux-arm64v8"}


def postgres_version(pom: Path) -> str:
    """The <postgres.version> property of the pom."""
    node = ET.parse(pom).getroot().find("m:properties/m:postgres.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise DevstackError(f"{pom} has no <postgres.version> property")
    return (node.text or "").strip()


def _platform() -> str:
    machine = platform.machine()
    if platform.system() != "Linux" or machine not in _PLATFORMS:
        raise DevstackError(
            f"no local PostgreSQL bundle for {platform.system()} {machine}: "
            f"set DATABASE_URL to a PostgreSQL of your own (with TLS)"
        )
    return _PLATFORMS[machine]


def _stamp(pom: Path, bundle: str) -> str:
    return hashlib.sha256(pom.read_bytes() + bundle.encode()).hexdigest()


def _complete(folder: Path, stamp: str | None = None) -> bool:
    """Whether folder holds the server's programs, fetched (if stamp is given) by this pom."""
    if not all((folder / "bin" / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
        return False
    kept = folder / _STAMP
    return stamp is None or (kept.is_file() and kept.read_text().strip() == stamp)


def _unpack(jars: Path, into: Path) -> None:
    """Unpack the bundle's .txz (bin/, lib/ with its libssl, share/) from the jar Maven fetched."""
    jar = next(iter(sorted(jars.glob("embedded-postgres-binaries-*.jar"))), None)
    if jar is None:
        raise DevstackError(f"Maven fetched no embedded-postgres-binaries jar into {jars}")
    with zipfile.ZipFile(jar) as bundle:
        member = next((n for n in bundle.namelist() if n.endswith(".txz")), None)
        if member is None:
            raise DevstackError(f"{jar.name} holds no .txz archive")
        with bundle.open(member) as raw, tarfile.open(fileobj=raw, mode="r:xz") as archive:
            # "data": nothing outside `into`, no device files, no setuid bits.
            archive.extractall(into, filter="data")


def ensure_binaries(layout: Layout) -> Path:
    """The folder of PostgreSQL's programs (initdb, pg_ctl, postgres) in layout's .cache/, or
    in the checkout we run from if layout has no pom (a test's folder); Maven runs only if it
    is missing or was filled by another pom."""
    if not (layout.root / POM).is_file():
        layout = Layout(find_repo_root())
    pom = layout.root / POM
    bundle = _platform()
    home = layout.cache / f"postgres-{postgres_version(pom)}"
    stamp = _stamp(pom, bundle)
    if _complete(home, stamp):
        return home / "bin"
    mvn = find_maven()
    # Fetch and unpack beside the final folder and move it in whole: an interrupted fetch is
    # retried.
    partial = home.with_name(f"{home.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    jars = partial / "jars"
    jars.mkdir(parents=True)
    command = [
        str(mvn), "-q", "-B", "-f", str(pom), f"-Dpostgres.platform={bundle}",
        "dependency:copy-dependencies", f"-DoutputDirectory={jars}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise DevstackError(f"Maven could not fetch PostgreSQL ({bundle}):\n{output}")
    _unpack(jars, partial)
    shutil.rmtree(jars)
    if not _complete(partial):
        raise DevstackError(f"the PostgreSQL bundle in {partial} lacks initdb, pg_ctl or postgres")
    (partial / _STAMP).write_text(stamp + "\n")
    shutil.rmtree(home, ignore_errors=True)
    partial.rename(home)
    return home / "bin"
