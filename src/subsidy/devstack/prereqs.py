"""Checks for the tools the local Kafka needs (Java 17+, Maven), with what to install."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from subsidy.devstack.errors import DevstackError

JAVA_MIN_MAJOR = 17
INSTALL_JAVA = "install Java 17 (apt-get install openjdk-17-jre-headless)"
INSTALL_MAVEN = "install Maven (apt-get install maven)"

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(version_output: str) -> int | None:
    """The major version in `java -version` output: "17.0.15" -> 17, "1.8.0_392" -> 8."""
    match = _VERSION.search(version_output)
    if match is None:
        return None
    first, second = int(match.group(1)), match.group(2)
    return int(second) if first == 1 and second is not None else first


def find_java() -> Path:
    """The java to run Kafka with ($JAVA_HOME's, else PATH's), checked to be 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    home_java = Path(java_home) / "bin" / "java" if java_home else None
    found = str(home_java) if home_java and home_java.is_file() else shutil.which("java")
    if found is None:
        raise DevstackError(f"no `java` found: {INSTALL_JAVA}")
    try:
        out = subprocess.run(
            [found, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DevstackError(f"`{found} -version` failed ({exc}): {INSTALL_JAVA}") from exc
    major = java_major(out.stderr + out.stdout)
    if major is None or major < JAVA_MIN_MAJOR:
        shown = f"Java {major}" if major is not None else "an unknown Java version"
        raise DevstackError(f"{found} is {shown}, Kafka needs {JAVA_MIN_MAJOR}+: {INSTALL_JAVA}")
    return Path(found)


def find_maven() -> Path:
    """The mvn that fetches Kafka's jars."""
    found = shutil.which("mvn")
    if found is None:
        raise DevstackError(f"no `mvn` found (needed once, to fetch Kafka's jars): {INSTALL_MAVEN}")
    return Path(found)
