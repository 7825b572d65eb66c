"""What the deploy/k8s tests share: the pinned tools, each overlay rendered, ways to look in it."""

import functools
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.go_tools import tool_bin

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = ROOT / "deploy" / "schemas"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())

Doc = dict[str, Any]


@functools.cache
def rendered_text(overlay: str) -> str:
    """`kustomize build deploy/k8s/overlays/<overlay>`."""
    done = subprocess.run(
        [str(tool_bin() / "kustomize"), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"kustomize build {overlay} failed:\n{done.stderr}"
    return done.stdout


def rendered(overlay: str) -> list[Doc]:
    """The overlay's objects (parsed afresh: callers may not change the cache)."""
    return [d for d in yaml.safe_load_all(rendered_text(overlay)) if d]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def by_name(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


# What runs the platform's pods: long-running Deployments, and CronJobs whose Jobs run to an end.
WORKLOAD_KINDS = ("Deployment", "CronJob")


def pod_template(workload: Doc) -> Doc:
    """A workload's pod template: a Deployment's own, or the one a CronJob's Jobs run."""
    if workload["kind"] == "CronJob":
        template: Doc = workload["spec"]["jobTemplate"]["spec"]["template"]
        return template
    template = workload["spec"]["template"]
    return template


def workloads(docs: list[Doc]) -> list[Doc]:
    """Every Deployment and CronJob."""
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(workload name, pod spec) of every workload, Deployments and CronJobs alike."""
    for d in workloads(docs):
        yield d["metadata"]["name"], pod_template(d)["spec"]


def pod_labels(docs: list[Doc], name: str) -> dict[str, str]:
    """The labels of the named workload's pods."""
    (found,) = [d for d in workloads(docs) if d["metadata"]["name"] == name]
    labels: dict[str, str] = pod_template(found)["metadata"]["labels"]
    return labels


def containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def kubernetes_version() -> str:
    """The Kubernetes version whose schemas are vendored (deploy/schemas/kubernetes/v*)."""
    (folder,) = (SCHEMAS / "kubernetes").glob("v*-standalone-strict")
    return folder.name.removeprefix("v").removesuffix("-standalone-strict")


def main_container(spec: Doc) -> Doc:
    """The workload's own container (the first; init containers are apart)."""
    container: Doc = spec["containers"][0]
    return container


def env_vars(container: Doc) -> dict[str, Doc]:
    """The container's variables by name, as written (value or valueFrom)."""
    return {var["name"]: var for var in container.get("env", [])}


def secret_ref(var: Doc) -> tuple[str, str] | None:
    """(Secret, key) a variable is read from, or None for a literal value."""
    ref = (var.get("valueFrom") or {}).get("secretKeyRef")
    return (ref["name"], ref["key"]) if ref else None


def mounted_secret_file(spec: Doc, container: Doc, path: str) -> tuple[str, str, int] | None:
    """(Secret, key, file mode) of the file at path in the container, if a Secret mounted
    there holds it; None otherwise."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        secret = volumes[mount["name"]].get("secret")
        if secret is None or not path.startswith(prefix):
            continue
        relative = path.removeprefix(prefix)
        items = {item["path"]: item["key"] for item in secret.get("items", [])}
        if secret.get("items") and relative not in items:
            return None
        mode = int(secret.get("defaultMode", 0o644))
        return secret["secretName"], items.get(relative, relative), mode
    return None
