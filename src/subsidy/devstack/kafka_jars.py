"""Kafka's jars: fetched once from Maven Central by deploy/local/kafka/pom.xml into .cache/."""

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from subsidy.devstack.errors import DevstackError
from subsidy.devstack.paths import Layout
from subsidy.devstack.prereqs import find_maven

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_STAMP = "pom.sha256"  # which pom filled the folder: editing the pom fetches again


def kafka_version(pom: Path) -> str:
    """The <kafka.version> property of the pom."""
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise DevstackError(f"{pom} has no <kafka.version> property")
    return (node.text or "").strip()


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _complete(libs: Path, version: str, digest: str | None = None) -> bool:
    """Whether libs holds Kafka's jars, fetched (if digest is given) by this very pom."""
    if not (libs / f"kafka_2.13-{version}.jar").is_file():
        return False
    stamp = libs / _STAMP
    return digest is None or (stamp.is_file() and stamp.read_text().strip() == digest)


def ensure_kafka_libs(layout: Layout) -> tuple[str, Path]:
    """Kafka's version and libs folder; Maven runs only if it is missing or from another pom."""
    version = kafka_version(layout.pom)
    libs = layout.kafka_libs(version)
    digest = _pom_digest(layout.pom)
    if _complete(libs, version, digest):
        return version, libs
    mvn = find_maven()
    # Download beside the final folder and move it in whole, so an interrupted fetch is retried.
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(mvn), "-q", "-B", "-f", str(layout.pom),
        "dependency:copy-dependencies", f"-DoutputDirectory={partial}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not _complete(partial, version):
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise DevstackError(f"Maven could not fetch Kafka {version}'s jars:\n{output}")
    (partial / _STAMP).write_text(digest + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    return version, libs
