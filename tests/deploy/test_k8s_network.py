"""deploy/k8s's NetworkPolicies, evaluated as the API defines them (a pod is isolated in a
direction once any policy selects it, and may then do what the union of those policies allows):
default deny both ways, the public APIs reachable from the ingress controller's namespace only,
metrics from Prometheus's, and each pod's way out limited to DNS, its own broker or database
port, and, for the notifier alone, mail and webhooks outside the cluster."""

import ipaddress
from typing import Any

import pytest

from tests.deploy.k8s import OVERLAYS, Doc, by_name, containers, of_kind, pod_specs, rendered

INGRESS_NAMESPACE = {"kubernetes.io/metadata.name": "ingress-nginx"}
PROMETHEUS_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
# The public APIs and the port each is published on.
PUBLIC = {"ingest": 50051, "ledger-api": 50081, "eligibility-api": 50061, "dashboard": 8088}
# What the operators' pods carry (Strimzi: a broker; CloudNativePG: an instance).
BROKER = {"strimzi.io/cluster": "subsidy", "strimzi.io/broker-role": "true"}
POSTGRES = {"cnpg.io/cluster": "subsidy-db", "cnpg.io/podRole": "instance"}
# No webhook or mail may go to these: the cluster's own and the cloud's metadata addresses.
INSIDE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
DELIVERY_PORTS = {25, 465, 587, 443}
# The services that own tables, and the read-only readers of the ledger.
DB_CLIENTS = {
    "ledger-worker", "ledger-relay", "ledger-api", "notifier-worker", "notifier-admin", "ingest",
    "dashboard",
}  # fmt: skip
API_SERVER_PORTS = {443, 6443}


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a set of labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]:
            return False
    return True


def rules(policies: list[Doc], labels: dict[str, str], direction: str) -> list[Doc] | None:
    """The rules that apply to a pod with these labels in a direction ("Ingress" or "Egress"),
    or None when no policy isolates it that way (everything allowed)."""
    selecting = [
        p
        for p in policies
        if direction in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"]["podSelector"], labels)
    ]
    if not selecting:
        return None
    key = "ingress" if direction == "Ingress" else "egress"
    return [rule for p in selecting for rule in p["spec"].get(key, [])]


def ports(rule: Doc) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


def pods(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Each workload's pod labels."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in of_kind(docs, "Deployment")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_default_deny_both_ways(overlay: str) -> None:
    policies = of_kind(rendered(overlay), "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default deny of both directions for every pod"
    # Every pod, the operators' included, is isolated both ways.
    for labels in [*pods(rendered(overlay)).values(), BROKER, POSTGRES, {}]:
        assert rules(policies, labels, "Ingress") is not None
        assert rules(policies, labels, "Egress") is not None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_who_may_come_in(overlay: str) -> None:
    """The public APIs from the ingress controller's namespace, on their published port;
    metrics from Prometheus's; nothing else, and nothing from every namespace at once."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    for name, labels in pods(docs).items():
        public: set[int] = set()
        metrics: set[int] = set()
        for rule in rules(policies, labels, "Ingress") or []:
            assert rule.get("from"), f"{name}: ingress from anywhere"
            for peer in rule["from"]:
                assert set(peer) == {"namespaceSelector"}, f"{name}: ingress from {peer}"
                namespace = peer["namespaceSelector"]
                if namespace == {"matchLabels": INGRESS_NAMESPACE}:
                    public |= ports(rule)
                elif namespace == {"matchLabels": PROMETHEUS_NAMESPACE}:
                    metrics |= ports(rule)
                else:
                    pytest.fail(f"{name}: ingress from {namespace}")
        assert public == ({PUBLIC[name]} if name in PUBLIC else set()), (name, public)
        main = by_name(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in main["ports"]}
        scraped = named.get("metrics", named.get("http"))
        # 9100: the platform's metrics port, opened to Prometheus on every pod of it at once.
        assert scraped in metrics, f"{name}: Prometheus cannot scrape {scraped}"
        assert metrics <= {scraped, 9100}, f"{name}: Prometheus may reach {metrics}"


def _outside_only(block: Doc) -> bool:
    """An ipBlock of the whole IPv4 internet less every range a cluster's own addresses (or a
    cloud's metadata service) live in."""
    if block["cidr"] != "0.0.0.0/0":
        return False
    excepted = [ipaddress.IPv4Network(c) for c in block.get("except", [])]
    return all(
        any(ipaddress.IPv4Network(inside).subnet_of(e) for e in excepted) for inside in INSIDE
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_where_each_pod_may_go(overlay: str) -> None:
    """DNS; a Kafka client the brokers' TLS listener; a database client PostgreSQL; the
    notifier worker mail and webhooks outside the cluster; nothing else."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    (listener,) = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]
    for name, labels in pods(docs).items():
        allowed = rules(policies, labels, "Egress")
        assert allowed is not None, f"{name}: egress not restricted"
        dns = kafka = postgres = False
        for rule in allowed:
            assert rule.get("to"), f"{name}: an egress rule to anywhere"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert name == "notifier-worker", f"{name}: egress to addresses"
                    assert _outside_only(peer["ipBlock"]), f"{name}: {peer['ipBlock']}"
                    assert ports(rule) <= DELIVERY_PORTS, f"{name}: {ports(rule)}"
                    continue
                target_ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                target = peer.get("podSelector", {})
                if target_ns.get("kubernetes.io/metadata.name") == "kube-system":
                    assert target == {"matchLabels": {"k8s-app": "kube-dns"}}, name
                    assert ports(rule) == {53}, name
                    dns = True
                elif matches(target, BROKER) and "namespaceSelector" not in peer:
                    assert labels.get("subsidy.io/kafka-client") == "true", name
                    assert ports(rule) == {listener["port"]}, name
                    kafka = True
                elif matches(target, POSTGRES) and "namespaceSelector" not in peer:
                    assert labels.get("subsidy.io/postgres-client") == "true", name
                    assert ports(rule) == {5432}, name
                    postgres = True
                else:
                    # An overlay's own, named destination: the mail relay (overlays/prod).
                    assert name == "notifier-worker", f"{name}: egress to {peer}"
                    assert target_ns, f"{name}: egress to {peer}"
                    assert ports(rule) <= {25, 465, 587}, (name, peer)
        assert dns, f"{name}: no DNS"
        assert kafka == (labels.get("subsidy.io/kafka-client") == "true"), name
        assert postgres == (labels.get("subsidy.io/postgres-client") == "true"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_operators_pods_reach_only_their_peers_and_the_api_server(overlay: str) -> None:
    policies = of_kind(rendered(overlay), "NetworkPolicy")
    for labels in (BROKER, POSTGRES):
        allowed = rules(policies, labels, "Egress")
        assert allowed is not None
        for rule in allowed:
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    assert ports(rule) <= API_SERVER_PORTS, (labels, rule)
                elif "namespaceSelector" not in peer:
                    cluster = {k: v for k, v in labels.items() if k.endswith("/cluster")}
                    assert peer["podSelector"] == {"matchLabels": cluster}, (labels, peer)
            assert rule.get("to"), (labels, "egress to anywhere on any port")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_client_labels_match_what_the_pods_use(overlay: str) -> None:
    """Only the services that own tables (and the read-only readers) reach PostgreSQL; only
    pods with a Kafka login reach the brokers, whose listener admits the label."""
    docs = rendered(overlay)
    for name, spec in pod_specs(docs):
        labels = by_name(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        env = [e for c in containers(spec) for e in c.get("env", [])]
        secrets = {(e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name", "") for e in env}
        uses_db = any(s.startswith("subsidy-db") for s in secrets)
        assert uses_db == (labels.get("subsidy.io/postgres-client") == "true"), name
        if uses_db:
            assert name in DB_CLIENTS, f"{name} reaches PostgreSQL"
        uses_kafka = any(e["name"] == "KAFKA_SASL_USERNAME" for e in env)
        assert uses_kafka == (labels.get("subsidy.io/kafka-client") == "true"), name
    peers = [
        peer
        for listener in of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]
        for peer in listener["networkPolicyPeers"]
    ]
    assert {"podSelector": {"matchLabels": {"subsidy.io/kafka-client": "true"}}} in peers
    assert all(peer.get("namespaceSelector") != {} for peer in peers)
