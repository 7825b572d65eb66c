"""Regenerate deploy/schemas/, the JSON schemas kubeconform validates the manifests with."""

# kubeconform fetches its schemas from GitHub by default, which the CI machines cannot reach; so the
# schemas are vendored, and this script rebuilds them from packages on the registries the machines
# do reach (run it after changing a version below, then commit deploy/schemas/):
#
# - Kubernetes itself: the PyPI wheel `kubernetes-validate`, whose per-version schemas point into a
#   shared `_definitions.json` by an absolute URL (kubeconform would try to download it), so each
#   kind we use is rewritten as a standalone file carrying only the definitions it needs;
# - Strimzi: the CRDs Strimzi's own build generates into the `tests` jar of `io.strimzi:api` (Maven
#   Central) — Strimzi is Java, so it has no Go module to take them from;
# - CloudNativePG, its Barman Cloud plugin, KEDA, prometheus-operator and cert-manager: the CRD
#   YAMLs in those projects' own Go modules (the Go module proxy), turned into JSON schemas the way
#   kubeconform's openapi2jsonschema does, with unknown fields refused (strict), so a misspelt key
#   fails.
#
# Usage: `uv run python scripts/k8s_schemas.py` (needs python3 -m pip, mvn and go on PATH).

import hashlib
import io
import json
import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "deploy" / "schemas"
CACHE = ROOT / ".cache" / "k8s-schemas"

# The oldest Kubernetes the manifests must work on (gRPC probes are GA from 1.27; 1.32 is the
# oldest minor still commonly supported by managed offerings when this was written).
KUBERNETES_VERSION = "1.32.0"
KUBERNETES_VALIDATE = "1.37.0"  # PyPI; ships schemas for Kubernetes 1.25 … 1.37
STRIMZI = "0.51.0"  # Maven Central io.strimzi:api, classifier tests
CNPG = "v1.29.0"
BARMAN_CLOUD = "v0.15.0"
KEDA = "v2.21.0"
PROMETHEUS_OPERATOR = "v0.85.0"
CERT_MANAGER = "v1.21.2"

# Kinds of the core API the manifests use: (kind, group prefix as kubeconform names files, version).
CORE_KINDS = [
    ("configmap", "", "v1"),
    ("namespace", "", "v1"),
    ("service", "", "v1"),
    ("serviceaccount", "", "v1"),
    ("deployment", "apps", "v1"),
    ("cronjob", "batch", "v1"),
    ("poddisruptionbudget", "policy", "v1"),
    ("networkpolicy", "networking", "v1"),
    ("ingress", "networking", "v1"),
]

# (source, path of the CRD inside it)
STRIMZI_CRDS = [
    "crds/v1/040-Crd-kafka.yaml",
    "crds/v1/043-Crd-kafkatopic.yaml",
    "crds/v1/044-Crd-kafkauser.yaml",
    "crds/v1/045-Crd-kafkanodepool.yaml",
]
GO_CRDS = {
    f"github.com/cloudnative-pg/cloudnative-pg@{CNPG}": [
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
        "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml",
    ],
    f"github.com/cloudnative-pg/plugin-barman-cloud@{BARMAN_CLOUD}": [
        "config/crd/bases/barmancloud.cnpg.io_objectstores.yaml",
    ],
    f"github.com/kedacore/keda/v2@{KEDA}": [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ],
    f"github.com/prometheus-operator/prometheus-operator@{PROMETHEUS_OPERATOR}": [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ],
    f"github.com/cert-manager/cert-manager@{CERT_MANAGER}": [
        "deploy/crds/cert-manager.io_certificates.yaml",
    ],
}

_DEFS_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(?P<name>.+)$")


def _run(*cmd: str, cwd: Path | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd).stdout


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sorted and compact-ish: diffs between versions stay readable, files stay small.
    path.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# --- Kubernetes core -------------------------------------------------------------------------


def _kubernetes_validate() -> Path:
    """The installed package's schema folder (uv extracts the wheel; no pip needed)."""
    target = CACHE / "pypi" / f"kubernetes-validate-{KUBERNETES_VALIDATE}"
    if not (target / "kubernetes_validate").is_dir():
        _run(
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            f"kubernetes-validate=={KUBERNETES_VALIDATE}",
        )
    return target / "kubernetes_validate" / "kubernetes-json-schema"


def _rewrite_refs(node: Any, needed: set[str]) -> Any:
    """The node with every `$ref` into _definitions.json made local; names collected."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                match = _DEFS_REF.match(value)
                if match is None:
                    raise ValueError(f"unexpected $ref {value!r}")
                needed.add(match["name"])
                out[key] = f"#/$defs/{match['name']}"
            else:
                out[key] = _rewrite_refs(value, needed)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, needed) for v in node]
    return node


def core_schemas() -> list[str]:
    """Standalone strict schemas of CORE_KINDS; returns the files written."""
    source = _kubernetes_validate() / f"v{KUBERNETES_VERSION}-local-strict"
    target = OUT / "kubernetes" / f"v{KUBERNETES_VERSION}-standalone-strict"
    written = []
    defs: dict[str, Any] = json.loads((source / "_definitions.json").read_text())["$defs"]
    for kind, group, version in CORE_KINDS:
        name = f"{kind}-{group}-{version}.json" if group else f"{kind}-{version}.json"
        needed: set[str] = set()
        schema = _rewrite_refs(json.loads((source / name).read_text()), needed)
        # The closure of the definitions the kind refers to, copied into the file itself.
        embedded: dict[str, Any] = {}
        pending = sorted(needed)
        while pending:
            ref = pending.pop()
            if ref in embedded:
                continue
            more: set[str] = set()
            embedded[ref] = _rewrite_refs(defs[ref], more)
            pending.extend(sorted(more - embedded.keys()))
        schema.pop("$id", None)  # an absolute id would make the local refs resolve remotely
        schema["$defs"] = embedded
        _write_json(target / name, schema)
        written.append(str((target / name).relative_to(OUT)))
    return written


# --- CRDs ------------------------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """openapi2jsonschema's treatment, kubeconform-style: OpenAPI's `nullable` and
    int-or-string become JSON Schema, and objects with declared properties refuse others."""
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if out.get("format") == "int-or-string":
        out.pop("format")
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas(crd_text: str) -> list[str]:
    """One JSON schema per served version of a CRD; returns the files written."""
    written = []
    for crd in yaml.safe_load_all(crd_text):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"].lower()
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            schema["$schema"] = "http://json-schema.org/draft-07/schema#"
            path = OUT / "crds" / group / f"{kind}_{version['name']}.json"
            _write_json(path, schema)
            written.append(str(path.relative_to(OUT)))
    return written


def strimzi_crds() -> list[str]:
    jar = CACHE / "maven" / f"api-{STRIMZI}-tests.jar"
    if not jar.exists():
        jar.parent.mkdir(parents=True, exist_ok=True)
        _run(
            "mvn",
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact=io.strimzi:api:{STRIMZI}:jar:tests",
            f"-DoutputDirectory={jar.parent}",
            "-Dmdep.overWriteReleases=true",
        )
    written = []
    with zipfile.ZipFile(jar) as archive:
        for member in STRIMZI_CRDS:
            written += crd_schemas(archive.read(member).decode("utf-8"))
    return written


def go_crds() -> list[str]:
    written = []
    with tempfile.TemporaryDirectory() as outside_any_module:
        env_cwd = Path(outside_any_module)
        for module, files in GO_CRDS.items():
            info = json.loads(_run("go", "mod", "download", "-json", module, cwd=env_cwd))
            for name in files:
                written += crd_schemas((Path(info["Dir"]) / name).read_text("utf-8"))
    return written


def main() -> None:
    os.environ.setdefault("GOTOOLCHAIN", "local")
    for stale in sorted(OUT.glob("**/*.json"), reverse=True):
        stale.unlink()
    files = core_schemas() + strimzi_crds() + go_crds()
    digest = {f: hashlib.sha256((OUT / f).read_bytes()).hexdigest()[:16] for f in sorted(files)}
    sources = {
        "kubernetes": f"pypi kubernetes-validate=={KUBERNETES_VALIDATE}, v{KUBERNETES_VERSION}",
        "strimzi": f"maven io.strimzi:api:{STRIMZI}:jar:tests",
        "go": sorted(GO_CRDS),
        "files": digest,
    }
    buffer = io.StringIO()
    json.dump(sources, buffer, indent=1, sort_keys=True)
    (OUT / "SOURCES.json").write_text(buffer.getvalue() + "\n")
    print(f"{len(files)} schemas written under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
