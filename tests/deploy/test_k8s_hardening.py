"""deploy/k8s runs safely."""

# Pods locked down, probes and budgets, metrics scraped, sound alerts. Who may reach whom:
# test_k8s_network.py; encryption and logins: test_k8s_transport.py.

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy.devstack.db_logins import GROUPS, LOGINS
from subsidy.infra.commands import EXIT_NOT_MIGRATED, EXIT_SERVER, EXIT_USAGE
from tests.deploy.k8s import K8S, OVERLAYS, Doc, containers, of_kind, pod_specs, rendered


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(overlay: str) -> None:
    """Every workload's pods, the CronJobs' included."""
    specs = dict(pod_specs(rendered(overlay)))
    assert "payouts-advance" in specs, "the payouts' CronJob is checked too"
    for name, spec in specs.items():
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
    for deployment in of_kind(docs, "Deployment"):  # long-running: a CronJob's pods end
        name, spec = deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
        assert name in budgets, f"{name} has no PodDisruptionBudget"
        main = spec["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in main, f"{name}: no {probe}"
        grpc_ports = [p for p in main["ports"] if p["name"] == "grpc"]
        if grpc_ports:
            # The gRPC port serves TLS only, which the kubelet's gRPC probe cannot speak: the
            # probes connect to it (the server listens once it is SERVING).
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert main[probe]["tcpSocket"]["port"] == grpc_ports[0]["containerPort"], name
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
def test_the_payouts_advance_daily_one_run_at_a_time(overlay: str) -> None:
    """`subsidy payouts advance --by cronjob` at 08:30 Beijing time every day, never two runs
    at once, a failed run retried a little and within a deadline, a pod that serves nothing."""
    docs = rendered(overlay)
    (cronjob,) = of_kind(docs, "CronJob")
    assert cronjob["metadata"]["name"] == "payouts-advance"
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("30 8 * * *", "Asia/Shanghai")
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] <= 6 * 3600  # still the same morning
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["backoffLimit"] <= 3
    assert 0 < job["activeDeadlineSeconds"] <= 3600
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == ["payouts", "advance", "--by", "cronjob"]
    env = {e["name"] for e in container["env"]}
    assert "SUBSIDY_OPERATOR" not in env, "--by names who runs it"
    assert not {"ports", "startupProbe", "readinessProbe", "livenessProbe"} & set(container)
    # The refusals that a retry cannot cure fail the Job at once (its exit statuses).
    (fail,) = [r for r in job["podFailurePolicy"]["rules"] if r["action"] == "FailJob"]
    assert fail["onExitCodes"]["containerName"] == container["name"]
    # 1: the desk refused; usage; schema not migrated. An unreachable server is retried.
    assert set(fail["onExitCodes"]["values"]) == {1, EXIT_USAGE, EXIT_NOT_MIGRATED}
    assert EXIT_SERVER not in fail["onExitCodes"]["values"]


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
    from subsidy.ledger import workbench_gauges  # noqa: F401  (its gauge: the API's registry)
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


# Each workload's own PostgreSQL login (docs/security.md, Database roles).
DB_LOGINS = {
    "ledger-worker": "subsidy-db-ledger-worker",
    "ledger-relay": "subsidy-db-ledger-relay",
    "ingest": "subsidy-db-ingest-server",
    "notifier-worker": "subsidy-db-notifier-worker",
    "notifier-admin": "subsidy-db-notifier-worker",
    "ledger-api": "subsidy-db-ledger-api",
    "dashboard": "subsidy-db-dashboard",
    "payouts-advance": "subsidy-db-payouts",
    "portal": "subsidy-db-portal",
}
# Logins of people, not of a workload: each the Secret no pod may read, and its group.
PEOPLE_LOGINS = {"identity_admin": ("subsidy-db-identity-admin", "subsidy_identity_admin")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_migration_runs_as_the_database_owner(overlay: str) -> None:
    """The owner's Secret goes to `subsidy db migrate` alone; every service container logs in
    as its own role, which CloudNativePG manages in the service's group."""
    docs = rendered(overlay)
    owners = []
    for name, spec in pod_specs(docs):
        for c in containers(spec):
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name", "")
                if ref == "subsidy-db-app":
                    owners.append((name, c.get("args")))
                elif ref.startswith("subsidy-db"):
                    assert ref == DB_LOGINS[name], f"{name}/{c['name']} reads {ref}"
    assert owners == [("ledger-worker", ["db", "migrate"])]
    cluster = of_kind(docs, "Cluster")[0]["spec"]["managed"]["roles"]
    groups = {r["name"] for r in cluster if not r["login"]}
    # The group roles the migrations grant to, and the logins in them, are the ones the local
    # stack makes (subsidy.devstack.db_logins): the code's roles, with nothing left out.
    assert groups == set(GROUPS)
    assert {"subsidy_payouts"} < groups
    logins = {r["passwordSecret"]["name"]: r for r in cluster if r["login"]}
    people = {secret for secret, _ in PEOPLE_LOGINS.values()}
    assert set(logins) == set(DB_LOGINS.values()) | people
    assert not people & set(DB_LOGINS.values()), "a workload holds a person's login"
    assert {r["name"]: r["inRoles"] for r in logins.values()} == {
        **{login: [group] for login, group in LOGINS.items()},
        **{login: [group] for login, (_, group) in PEOPLE_LOGINS.items()},
    }
    for secret, login in logins.items():
        assert secret == "subsidy-db-" + login["name"].replace("_", "-"), secret


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_committed(overlay: str) -> None:
    """Secrets are referenced, never rendered; each one referenced is documented."""
    docs = rendered(overlay)
    assert not of_kind(docs, "Secret")
    readme = (K8S / "secrets" / "README.md").read_text()
    referenced: set[str] = set()

    def walk(node: Any, parent: str = "") -> None:
        if isinstance(node, dict):
            if parent in ("secretKeyRef", "passwordSecret", "secretTargetRef") or (
                parent in ("accessKeyId", "secretAccessKey") and "key" in node
            ):
                referenced.add(node["name"])
            if parent == "secret" and "secretName" in node:  # a Secret mounted as files
                referenced.add(node["secretName"])
            for key, value in node.items():
                walk(value, key)
        elif isinstance(node, list):
            for value in node:
                walk(value, parent)

    walk(docs)
    assert {"subsidy-db-app", "subsidy-ingest", "subsidy-notifier"} <= referenced
    for name in referenced:
        assert f"`{name}`" in readme, f"Secret {name} is not in deploy/k8s/secrets/README.md"


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
