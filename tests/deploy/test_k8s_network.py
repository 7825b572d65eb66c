"""deploy/k8s's NetworkPolicies, evaluated as the API defines them."""

# A pod is isolated in a direction once any policy selects it, then may do what the union of
# those policies allows. Default deny both ways; public APIs from the ingress controller's pods
# only (the ledger API and ingest also from the portal's, which relays to them); metrics from
# Prometheus's namespace; each pod out only to DNS, its broker or database port (the portal's to
# the two gRPC servers it relays to), and mail and webhooks outside for the notifier alone.

import ipaddress
from collections.abc import Iterable
from typing import Any

import pytest

from tests.deploy.k8s import (
    OVERLAYS,
    Doc,
    containers,
    of_kind,
    pod_labels,
    pod_specs,
    pod_template,
    rendered,
    workloads,
)

INGRESS_NAMESPACE = {"kubernetes.io/metadata.name": "ingress-nginx"}
PROMETHEUS_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
# ingress-nginx's pods (its manifests' and chart's labels): the controller proxies, admission not.
INGRESS_CONTROLLER = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/instance": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}
INGRESS_NEIGHBOURS = [{**INGRESS_CONTROLLER, "app.kubernetes.io/component": "admission-webhook"}]
# The public APIs and the port each is published on.
PUBLIC = {
    "ingest": 50051, "ledger-api": 50081, "eligibility-api": 50061, "dashboard": 8088,
    "portal": 8090,
}  # fmt: skip
# The portal relays people's requests to these, on their gRPC ports; nothing else reaches them
# from inside the namespace.
RELAYED = {"ledger-api": 50081, "ingest": 50051}
# Pods that serve no metrics (yet): Prometheus may reach them only on the platform's 9100.
NO_METRICS = {"portal"}
# The labels the operators give their pods (Strimzi 0.51: node pools' pods, the entity operator,
# Kafka Exporter; CloudNativePG: an instance, a bootstrap job).
_STRIMZI = {"strimzi.io/cluster": "subsidy", "strimzi.io/kind": "Kafka"}
_NODE = {**_STRIMZI, "strimzi.io/name": "subsidy-kafka", "app.kubernetes.io/name": "kafka"}
BROKER = {
    **_NODE, "strimzi.io/pool-name": "broker", "strimzi.io/broker-role": "true",
    "strimzi.io/controller-role": "false",
}  # fmt: skip
CONTROLLER = {
    **_NODE, "strimzi.io/pool-name": "controller", "strimzi.io/broker-role": "false",
    "strimzi.io/controller-role": "true",
}  # fmt: skip
ENTITY_OPERATOR = {**_STRIMZI, "strimzi.io/name": "subsidy-entity-operator"}
KAFKA_EXPORTER = {**_STRIMZI, "strimzi.io/name": "subsidy-kafka-exporter"}
POSTGRES = {"cnpg.io/cluster": "subsidy-db", "cnpg.io/podRole": "instance"}
POSTGRES_JOB = {"cnpg.io/cluster": "subsidy-db", "cnpg.io/jobRole": "initdb"}
OPERATED = {
    "broker": BROKER, "controller": CONTROLLER, "entity-operator": ENTITY_OPERATOR,
    "kafka-exporter": KAFKA_EXPORTER, "postgres": POSTGRES, "postgres-job": POSTGRES_JOB,
}  # fmt: skip
# Their own cluster's internal ports: KRaft's controllers and the replication listener;
# replication and the instance managers' status API.
INTERNAL_PORTS = {"strimzi.io/cluster": {9090, 9091}, "cnpg.io/cluster": {5432, 8000}}
# No webhook or mail may go to these: the cluster's own and the cloud's metadata addresses, and
# what is no host on the internet (this network, loopback, IETF assignments, benchmarking,
# multicast, reserved).
INSIDE = (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    "0.0.0.0/8", "127.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
)  # fmt: skip
INSIDE_V6 = ("::1/128", "fc00::/7", "fe80::/10", "ff00::/8")
DELIVERY_PORTS = {25, 465, 587, 443}
# The services that own tables, and the read-only readers of the ledger.
DB_CLIENTS = {
    "ledger-worker", "ledger-relay", "ledger-api", "notifier-worker", "notifier-admin", "ingest",
    "dashboard", "payouts-advance", "portal",
}  # fmt: skip
# Pods nothing may reach: they listen on nothing (the payouts' CronJob).
UNREACHABLE = {"payouts-advance"}
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
    """The ports a rule opens, each one named: a rule without `ports` opens every port, an
    entry without `port` every port of its protocol, `endPort` a range — all refused here."""
    entries = rule.get("ports") or []
    assert entries, f"a rule open on every port: {rule}"
    for entry in entries:
        assert isinstance(entry.get("port"), int), f"not a numbered port: {entry}"
        assert "endPort" not in entry, f"a range of ports: {entry}"
    return {entry["port"] for entry in entries}


def selects_only(
    selector: Doc | None, wanted: dict[str, str], others: Iterable[dict[str, str]]
) -> bool:
    """A peer's podSelector picks the wanted pods and none of the others, nor a pod without
    labels: an absent or empty podSelector (every pod of the namespace) never passes."""
    chosen = selector or {}
    return matches(chosen, wanted) and not any(matches(chosen, o) for o in [{}, *others])


def pods(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Each workload's pod labels (Deployments and CronJobs)."""
    return {d["metadata"]["name"]: pod_template(d)["metadata"]["labels"] for d in workloads(docs)}


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
    for labels in [*pods(rendered(overlay)).values(), *OPERATED.values(), {}]:
        assert rules(policies, labels, "Ingress") is not None
        assert rules(policies, labels, "Egress") is not None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rule_names_its_ports_and_its_peers(overlay: str) -> None:
    """No rule of any policy is open on every port, to or from everywhere, or to every
    namespace at once."""
    for policy in of_kind(rendered(overlay), "NetworkPolicy"):
        name = policy["metadata"]["name"]
        for key, side in (("ingress", "from"), ("egress", "to")):
            for rule in policy["spec"].get(key, []):
                assert ports(rule), name
                assert rule.get(side), f"{name}: {key} {side} anywhere"
                for peer in rule[side]:
                    # An empty selector is every namespace, or every pod of one.
                    selectors = (peer.get("namespaceSelector"), peer.get("podSelector"))
                    assert {} not in selectors, f"{name}: {peer}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_who_may_come_in(overlay: str) -> None:
    """The public APIs from the ingress controller's pods, on their published port; the ledger
    API and ingest from the portal's pods on their gRPC port; metrics from Prometheus's
    namespace; nothing else, and nothing from every namespace at once."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    assert set(pods(docs)) >= UNREACHABLE | set(PUBLIC)
    portal = pods(docs)["portal"]
    others = [labels for name, labels in pods(docs).items() if name != "portal"]
    for name, labels in pods(docs).items():
        if name in UNREACHABLE:
            # Isolated (the default deny selects it) and let in by no rule, Prometheus's neither.
            assert rules(policies, labels, "Ingress") == [], f"{name} may be reached"
            continue
        public: set[int] = set()
        metrics: set[int] = set()
        relayed: set[int] = set()
        for rule in rules(policies, labels, "Ingress") or []:
            assert rule.get("from"), f"{name}: ingress from anywhere"
            for peer in rule["from"]:
                assert set(peer) <= {"namespaceSelector", "podSelector"}, f"{name}: {peer}"
                namespace = peer.get("namespaceSelector")
                if namespace is None and name in RELAYED:
                    # From this namespace: the portal's pods alone, and no other pod.
                    chosen = peer.get("podSelector")
                    assert selects_only(chosen, portal, others), f"{name}: from {chosen}"
                    relayed |= ports(rule)
                elif namespace == {"matchLabels": INGRESS_NAMESPACE}:
                    controller = peer.get("podSelector")
                    assert selects_only(controller, INGRESS_CONTROLLER, INGRESS_NEIGHBOURS), (
                        f"{name}: from {controller or 'every pod'} in ingress-nginx"
                    )
                    public |= ports(rule)
                elif namespace == {"matchLabels": PROMETHEUS_NAMESPACE}:
                    metrics |= ports(rule)
                else:
                    pytest.fail(f"{name}: ingress from {peer}")
        assert public == ({PUBLIC[name]} if name in PUBLIC else set()), (name, public)
        assert relayed == ({RELAYED[name]} if name in RELAYED else set()), (name, relayed)
        if name in NO_METRICS:
            assert metrics <= {9100}, f"{name}: Prometheus may reach {metrics}"
            continue
        main = dict(pod_specs(docs))[name]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in main["ports"]}
        scraped = named.get("metrics", named.get("http"))
        # 9100: the platform's metrics port, opened to Prometheus on every pod of it at once.
        assert scraped in metrics, f"{name}: Prometheus cannot scrape {scraped}"
        assert metrics <= {scraped, 9100}, f"{name}: Prometheus may reach {metrics}"


def _within(inner: str, outer: str) -> bool:
    """One network inside another of the same IP version."""
    a, b = ipaddress.ip_network(inner), ipaddress.ip_network(outer)
    if isinstance(a, ipaddress.IPv4Network) and isinstance(b, ipaddress.IPv4Network):
        return a.subnet_of(b)
    if isinstance(a, ipaddress.IPv6Network) and isinstance(b, ipaddress.IPv6Network):
        return a.subnet_of(b)
    return False


def _outside_only(block: Doc) -> bool:
    """An ipBlock of the whole internet (IPv4 or IPv6) less every range a cluster's own
    addresses, a cloud's metadata service, or no host at all live in."""
    network = ipaddress.ip_network(block["cidr"])
    if network.prefixlen != 0:
        return False
    inside = INSIDE if network.version == 4 else INSIDE_V6
    return all(any(_within(i, e) for e in block.get("except", [])) for i in inside)


def _is_dns(peer: Doc, rule: Doc) -> bool:
    """kube-dns in kube-system on 53, and nothing else in the peer."""
    return peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    } and ports(rule) == {53}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_where_each_pod_may_go(overlay: str) -> None:
    """DNS; a Kafka client the brokers' TLS listener; a database client PostgreSQL's
    instances; the portal the ledger API's and ingest's gRPC ports; the notifier worker mail
    and webhooks outside the cluster; nothing else."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    (listener,) = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]
    every = pods(docs)
    apps = list(every.values())
    others = [*OPERATED.values(), *apps]
    # Every pod but the named workload's, which a selector of that workload must not pick.
    others_of = {n: [o for o in others if o != every[n]] for n in every}
    for name, labels in every.items():
        allowed = rules(policies, labels, "Egress")
        assert allowed is not None, f"{name}: egress not restricted"
        dns = kafka = postgres = False
        relays: set[str] = set()
        for rule in allowed:
            assert rule.get("to"), f"{name}: an egress rule to anywhere"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert name == "notifier-worker", f"{name}: egress to addresses"
                    assert _outside_only(peer["ipBlock"]), f"{name}: {peer['ipBlock']}"
                    assert ports(rule) <= DELIVERY_PORTS, f"{name}: {ports(rule)}"
                    continue
                target = peer.get("podSelector")
                local = "namespaceSelector" not in peer
                if _is_dns(peer, rule):
                    dns = True
                elif local and selects_only(target, BROKER, [b for b in others if b != BROKER]):
                    assert labels.get("subsidy.io/kafka-client") == "true", name
                    assert ports(rule) == {listener["port"]}, name
                    kafka = True
                elif local and selects_only(target, POSTGRES, [o for o in others if o != POSTGRES]):
                    assert labels.get("subsidy.io/postgres-client") == "true", name
                    assert ports(rule) == {5432}, name
                    postgres = True
                elif local and name == "portal":
                    # The gRPC servers it relays to, each on its own port, nothing else.
                    servers = [s for s in RELAYED if selects_only(target, every[s], others_of[s])]
                    assert len(servers) == 1, f"portal: egress to {peer}"
                    (server,) = servers
                    assert ports(rule) == {RELAYED[server]}, (name, server, rule)
                    relays.add(server)
                else:
                    # An overlay's own, named destination: the mail relay (overlays/prod).
                    assert name == "notifier-worker", f"{name}: egress to {peer}"
                    assert peer.get("namespaceSelector", {}).get("matchLabels"), (name, peer)
                    assert ports(rule) <= {25, 465, 587}, (name, peer)
        assert dns, f"{name}: no DNS"
        assert relays == (set(RELAYED) if name == "portal" else set()), (name, relays)
        assert kafka == (labels.get("subsidy.io/kafka-client") == "true"), name
        assert postgres == (labels.get("subsidy.io/postgres-client") == "true"), name


def _needs_the_api_server(docs: list[Doc]) -> set[str]:
    """The operated pods that are clients of the Kubernetes API server: Strimzi's entity
    operator; its brokers when rack awareness is on (the init container reads the node's zone);
    every pod of CloudNativePG's cluster (the instance manager)."""
    rack = "rack" in of_kind(docs, "Kafka")[0]["spec"]["kafka"]
    return {"entity-operator", "postgres", "postgres-job"} | ({"broker"} if rack else set())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_operators_pods_reach_only_their_peers_and_the_api_server(overlay: str) -> None:
    """Their own cluster's pods on its internal ports, DNS, and the API server (HTTPS, any
    address) for the pods that need it and only those."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    needs_api = _needs_the_api_server(docs)
    for name, labels in OPERATED.items():
        allowed = rules(policies, labels, "Egress")
        assert allowed is not None, name
        (cluster,) = [k for k in INTERNAL_PORTS if k in labels]
        api = False
        for rule in allowed:
            assert rule.get("to"), f"{name}: egress to anywhere"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert name in needs_api, f"{name}: egress to {peer['ipBlock']}"
                    assert ports(rule) <= API_SERVER_PORTS, (name, rule)
                    api = True
                elif not _is_dns(peer, rule):
                    own = {"matchLabels": {cluster: labels[cluster]}}
                    assert peer == {"podSelector": own}, f"{name}: egress to {peer}"
                    assert ports(rule) == INTERNAL_PORTS[cluster], (name, rule)
        assert api == (name in needs_api), f"{name}: API server {'un' * (not api)}reachable"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_client_labels_match_what_the_pods_use(overlay: str) -> None:
    """Only the services that own tables (and the read-only readers) reach PostgreSQL; only
    pods with a Kafka login reach the brokers, whose listener admits the label."""
    docs = rendered(overlay)
    for name, spec in pod_specs(docs):
        labels = pod_labels(docs, name)
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


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_payouts_cronjob_reaches_postgresql_and_dns_only(overlay: str) -> None:
    """Its pods go to the database's instances (5432) and DNS, nowhere else; nothing comes in;
    and PostgreSQL lets them in."""
    docs = rendered(overlay)
    policies = of_kind(docs, "NetworkPolicy")
    labels = pod_labels(docs, "payouts-advance")
    assert rules(policies, labels, "Ingress") == [], "something may reach the payouts' pods"
    allowed = rules(policies, labels, "Egress")
    assert allowed is not None, "the payouts' pods may go anywhere"
    reached = set()
    for rule in allowed:
        for peer in rule["to"]:
            if _is_dns(peer, rule):
                reached.add("dns")
            elif peer == {"podSelector": {"matchLabels": POSTGRES}} and ports(rule) == {5432}:
                reached.add("postgres")
            else:
                pytest.fail(f"payouts-advance may go to {peer} on {ports(rule)}")
    assert reached == {"dns", "postgres"}
    # From its own namespace (a peer without namespaceSelector), by its labels.
    admitted = [
        peer
        for rule in rules(policies, POSTGRES, "Ingress") or []
        if 5432 in ports(rule)
        for peer in rule["from"]
        if set(peer) == {"podSelector"} and matches(peer["podSelector"], labels)
    ]
    assert admitted, "PostgreSQL does not let the payouts' pods in"
