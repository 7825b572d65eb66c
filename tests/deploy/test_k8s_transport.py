"""deploy/k8s encrypts and authenticates every connection."""

# Kafka over TLS with one SCRAM login per service, PostgreSQL with the server verified
# (verify-full), gRPC over TLS with cert-manager's certificates; and production runs pinned images
# only.

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from subsidy.infra.kafka_access import (
    ELIGIBILITY,
    INGEST,
    LEDGER_RELAY,
    LEDGER_WORKER,
    NOTIFIER,
    SERVICES,
)
from tests.deploy.k8s import (
    K8S,
    OVERLAYS,
    Doc,
    by_name,
    containers,
    env_vars,
    main_container,
    mounted_secret_file,
    of_kind,
    pod_labels,
    pod_specs,
    rendered,
    rendered_text,
    secret_ref,
)

# The Kafka versions Strimzi 0.51 (the schemas in deploy/schemas) runs: its kafka-versions.yaml.
STRIMZI = "0.51.0"
STRIMZI_KAFKA_VERSIONS = {"4.1.0", "4.1.1", "4.2.0"}
# Who each Kafka-using command logs in as (src/subsidy/infra/kafka_access.py).
PRINCIPALS = {
    ("ingest-server",): INGEST,
    ("eligibility", "worker"): ELIGIBILITY,
    ("ledger", "worker"): LEDGER_WORKER,
    ("ledger", "relay"): LEDGER_RELAY,
    ("notify", "worker"): NOTIFIER,
}
SHA256 = re.compile(r"@sha256:([0-9a-f]{64})$")
# The one placeholder production may carry: the platform's image with the all-zero digest, which
# the release pipeline replaces by the digest of the image it pushed (deploy/k8s/README.md,
# Transport, Images). It names no image, so applied as committed it fails to pull.
PLATFORM = "registry.example.com/suzhou-subsidy/platform"
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


def _kafka(docs: list[Doc]) -> Doc:
    (kafka,) = of_kind(docs, "Kafka")
    return kafka


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_listens_only_with_tls_and_scram_and_authorizes(overlay: str) -> None:
    spec = _kafka(rendered(overlay))["spec"]
    listeners = spec["kafka"]["listeners"]
    assert listeners, "no listener"
    for listener in listeners:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"] == {"type": "scram-sha-512"}, listener["name"]
    assert spec["kafka"]["authorization"]["type"] == "simple"
    assert not spec["kafka"]["authorization"].get("superUsers"), "no service is a super user"
    assert spec["kafka"]["version"] in STRIMZI_KAFKA_VERSIONS, "Kafka's version is set explicitly"
    assert spec["entityOperator"]["userOperator"]["secretPrefix"] == "kafka-"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_kafka_client_logs_in_as_its_own_principal(overlay: str) -> None:
    """SASL_SSL, SCRAM-SHA-512, its own KafkaUser's name and password, the cluster CA mounted;
    no two workloads share a principal; a workload without Kafka has no login at all."""
    docs = rendered(overlay)
    kafka = _kafka(docs)
    name = kafka["metadata"]["name"]
    prefix = kafka["spec"]["entityOperator"]["userOperator"]["secretPrefix"]
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    (port,) = {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"]}
    (common,) = [c for c in of_kind(docs, "ConfigMap") if "KAFKA_BOOTSTRAP" in c.get("data", {})]
    assert common["data"]["KAFKA_BOOTSTRAP"] == f"{name}-kafka-bootstrap:{port}"
    seen: dict[str, str] = {}
    for workload, spec in pod_specs(docs):
        for c in containers(spec):
            env = env_vars(c)
            client = c is main_container(spec) and tuple(c["args"]) in PRINCIPALS
            labelled = pod_labels(docs, workload).get("subsidy.io/kafka-client") == "true"
            if not client:
                assert not {k for k in env if k.startswith("KAFKA_")}, f"{workload}/{c['name']}"
                continue
            assert labelled, f"{workload}: a Kafka client without the kafka-client label"
            principal = PRINCIPALS[tuple(c["args"])]
            assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL", workload
            assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512", workload
            assert env["KAFKA_SASL_USERNAME"]["value"] == principal, workload
            assert principal in users, f"{workload}: no KafkaUser {principal}"
            assert secret_ref(env["KAFKA_SASL_PASSWORD"]) == (prefix + principal, "password")
            cafile = env["KAFKA_SSL_CAFILE"]["value"]
            found = mounted_secret_file(spec, c, cafile)
            assert found is not None, f"{workload}: {cafile} is not mounted from a Secret"
            assert found[:2] == (f"{name}-cluster-ca-cert", "ca.crt"), workload
            assert principal not in seen, f"{workload} and {seen.get(principal)} share {principal}"
            seen[principal] = workload
    assert set(seen) == set(SERVICES), "every service principal is some workload's"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_reads_the_lag_over_tls_as_its_own_user(overlay: str) -> None:
    docs = rendered(overlay)
    kafka = _kafka(docs)
    prefix = kafka["spec"]["entityOperator"]["userOperator"]["secretPrefix"]
    auths = {a["metadata"]["name"]: a["spec"] for a in of_kind(docs, "TriggerAuthentication")}
    for scaled in of_kind(docs, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] != "kafka":
                continue
            assert trigger["metadata"]["sasl"] == "scram_sha512"
            assert trigger["metadata"]["tls"] == "enable"
            auth = auths[trigger["authenticationRef"]["name"]]
            secrets = {r["parameter"]: (r["name"], r["key"]) for r in auth["secretTargetRef"]}
            maps = {r["parameter"]: (r["name"], r["key"]) for r in auth["configMapTargetRef"]}
            config = by_name(docs, "ConfigMap", maps["username"][0])
            user = config["data"][maps["username"][1]]
            assert secrets["password"] == (prefix + user, "password")
            assert secrets["ca"] == (f"{kafka['metadata']['name']}-cluster-ca-cert", "ca.crt")
            assert user in {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}


def _database_urls(docs: list[Doc]) -> list[tuple[str, Doc, Doc, Doc, str]]:
    """(workload, pod spec, container, variable, the login Secret it completes) per URL."""
    found = []
    for workload, spec in pod_specs(docs):
        for c in containers(spec):
            env = env_vars(c)
            for name, var in env.items():
                if not name.endswith("DATABASE_URL"):
                    continue
                assert "value" in var, f"{workload}: {name} taken whole from a Secret"
                (login,) = re.findall(r"^\$\((\w+)\)\?", var["value"])
                ref = secret_ref(env[login])
                assert ref is not None, f"{workload}: {login} is no Secret's"
                assert ref[1] == "uri", f"{workload}: {login} is no login URI"
                found.append((workload, spec, c, var, ref[0]))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_database_url_verifies_the_server(overlay: str) -> None:
    """sslmode=verify-full against CloudNativePG's CA, mounted from its Secret; and the server
    refuses connections without TLS."""
    docs = rendered(overlay)
    (cluster,) = of_kind(docs, "Cluster")
    urls = _database_urls(docs)
    # Every container given a login's Secret (a `subsidy-db-*` uri) builds a URL from it, the
    # CronJobs' as well.
    logged_in = {
        (workload, c["name"])
        for workload, spec in pod_specs(docs)
        for c in containers(spec)
        for var in env_vars(c).values()
        if (secret_ref(var) or ("", ""))[0].startswith("subsidy-db-")
    }
    assert {(w, c["name"]) for w, _, c, _, _ in urls} == logged_in
    assert ("payouts-advance", "advance") in logged_in
    for workload, spec, c, var, _ in urls:
        query = parse_qs(urlsplit(var["value"]).query, strict_parsing=True)
        assert query["sslmode"] == ["verify-full"], workload
        (root,) = query["sslrootcert"]
        found = mounted_secret_file(spec, c, root)
        assert found is not None, f"{workload}: {root} is not mounted from a Secret"
        assert found[:2] == (f"{cluster['metadata']['name']}-ca", "ca.crt"), workload
    assert "hostnossl all all all reject" in cluster["spec"]["postgresql"]["pg_hba"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_grpc_server_serves_its_certificate(overlay: str) -> None:
    """GRPC_TLS_CERT and GRPC_TLS_KEY name files of the Secret of a cert-manager Certificate
    for the Service's names; the key is not world-readable; no server is plaintext."""
    docs = rendered(overlay)
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    certificates = {c["spec"]["secretName"]: c["spec"] for c in of_kind(docs, "Certificate")}
    servers = 0
    for workload, spec in pod_specs(docs):
        c = main_container(spec)
        env = env_vars(c)
        grpc = [p["containerPort"] for p in c.get("ports", []) if p["name"] == "grpc"]
        if not grpc:
            assert "GRPC_TLS_CERT" not in env, workload
            continue
        servers += 1
        assert "GRPC_PLAINTEXT" not in env, workload
        cert = mounted_secret_file(spec, c, env["GRPC_TLS_CERT"]["value"])
        key = mounted_secret_file(spec, c, env["GRPC_TLS_KEY"]["value"])
        assert cert is not None, f"{workload}: GRPC_TLS_CERT is not mounted from a Secret"
        assert key is not None, f"{workload}: GRPC_TLS_KEY is not mounted from a Secret"
        assert cert[0] == key[0], workload
        assert (cert[1], key[1]) == ("tls.crt", "tls.key"), workload
        assert key[2] & 0o007 == 0, f"{workload}: the private key is world-readable"
        certificate = certificates[cert[0]]
        assert certificate["issuerRef"]["name"] == "subsidy-grpc", workload
        service = by_name(docs, "Service", workload)
        assert {workload, f"{workload}.{namespace}.svc"} <= set(certificate["dnsNames"])
        assert "server auth" in certificate["usages"], workload
        for port in service["spec"]["ports"]:
            assert port.get("appProtocol") != "kubernetes.io/h2c", f"{workload}: cleartext h2c"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["tcpSocket"]["port"] == grpc[0], f"{workload}: {probe}"
    assert servers == 4, "ingest, ledger-api, eligibility-api, notifier-admin"


def _env_value(docs: list[Doc], workload: str, variable: str) -> str:
    """A literal variable of a workload's main container."""
    spec = dict(pod_specs(docs))[workload]
    value: str = env_vars(main_container(spec))[variable]["value"]
    return value


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_serves_https_and_checks_the_servers_it_relays_to(overlay: str) -> None:
    """The portal serves HTTPS with a cert-manager certificate for its Service's names (key not
    world-readable, never plaintext); it dials the ledger API and ingest by names their
    certificates carry, on their Services' ports, and checks them against the CA of the
    Issuer that signed them; what it submits carries the source ingest lets sessions claim."""
    docs = rendered(overlay)
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    certificates = {c["spec"]["secretName"]: c["spec"] for c in of_kind(docs, "Certificate")}
    spec = dict(pod_specs(docs))["portal"]
    c = main_container(spec)
    env = env_vars(c)
    assert not {"PORTAL_PLAINTEXT", "PORTAL_GRPC_PLAINTEXT"} & set(env), "plaintext"
    cert = mounted_secret_file(spec, c, env["PORTAL_TLS_CERT"]["value"])
    key = mounted_secret_file(spec, c, env["PORTAL_TLS_KEY"]["value"])
    assert cert is not None, "PORTAL_TLS_CERT is not mounted from a Secret"
    assert key is not None, "PORTAL_TLS_KEY is not mounted from a Secret"
    assert (cert[:2], key[:2]) == ((cert[0], "tls.crt"), (cert[0], "tls.key"))
    assert key[2] & 0o007 == 0, "the private key is world-readable"
    certificate = certificates[cert[0]]
    issuer = certificate["issuerRef"]
    assert issuer["name"] == "subsidy-grpc"
    assert {"portal", f"portal.{namespace}.svc"} <= set(certificate["dnsNames"])
    assert "server auth" in certificate["usages"]
    (port,) = by_name(docs, "Service", "portal")["spec"]["ports"]
    assert port["appProtocol"] == "https", "the Service says HTTPS to the ingress"
    ca = mounted_secret_file(spec, c, env["PORTAL_GRPC_CA"]["value"])
    assert ca is not None, "PORTAL_GRPC_CA is not mounted from a Secret"
    assert ca[1] == "ca.crt", "PORTAL_GRPC_CA is no Secret's ca.crt"
    assert certificates[ca[0]]["issuerRef"] == issuer, "a CA other than the servers' Issuer's"
    relayed = (("PORTAL_LEDGER_API", "ledger-api"), ("PORTAL_INGEST_API", "ingest"))
    for variable, server in relayed:
        host, _, dialled = env[variable]["value"].rpartition(":")
        service = by_name(docs, "Service", server)
        grpc = {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}
        assert (host, {int(dialled)}) == (server, grpc), f"{variable}: not {server}'s gRPC port"
        served = certificates[f"{server}-grpc-tls"]
        assert host in served["dnsNames"], f"{variable}: {host} is not in {server}'s certificate"
        assert served["issuerRef"] == issuer, f"{server}'s certificate: another Issuer"
    source = _env_value(docs, "portal", "PORTAL_EVENT_SOURCE")
    assert source == _env_value(docs, "ingest", "INGEST_PORTAL_SOURCE"), "ingest refuses it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sessions_are_signed_by_the_portal_alone_and_verified_by_the_apis(overlay: str) -> None:
    """The private half is read by the portal and nothing else; the ledger API and ingest read
    the public half, from one Secret, so they verify with the same key."""
    docs = rendered(overlay)
    private = {}
    public = {}
    for workload, spec in pod_specs(docs):
        for c in containers(spec):
            for name, var in env_vars(c).items():
                ref = secret_ref(var)
                if name == "PORTAL_SESSION_PRIVATE_KEY":
                    private[workload] = ref
                elif name == "SESSION_PUBLIC_KEY":
                    public[workload] = ref
    assert set(private) == {"portal"}, private
    (signing,) = private.values()
    assert signing is not None, "the session key is no Secret's"
    assert set(public) == {"ledger-api", "ingest"}, public
    (verifying,) = set(public.values())
    assert verifying is not None, "the public key is no Secret's"
    assert verifying[0] != signing[0], "the public half: a Secret of its own"
    readers = {
        workload
        for workload, spec in pod_specs(docs)
        for c in containers(spec)
        for var in env_vars(c).values()
        if (secret_ref(var) or ("", ""))[0] == signing[0]
    }
    assert readers == {"portal"}, f"the session key's Secret is read by {readers}"


NGINX = "nginx.ingress.kubernetes.io/"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_is_published_re_encrypted(overlay: str) -> None:
    """Production's Ingress sends every path of its hosts to the portal's HTTPS port, over TLS
    whose certificate the controller checks (the Issuer's CA from a Secret holding no key, and
    a name the portal's certificate carries), each host with its own certificate; the other
    environments publish nothing (port-forward)."""
    docs = rendered(overlay)
    ingresses = of_kind(docs, "Ingress")
    if overlay != "prod":
        assert not ingresses, f"{overlay} publishes {[i['metadata']['name'] for i in ingresses]}"
        return
    namespace = of_kind(docs, "Namespace")[0]["metadata"]["name"]
    certificates = {c["spec"]["secretName"]: c["spec"] for c in of_kind(docs, "Certificate")}
    readme = (K8S / "secrets" / "README.md").read_text()
    (ingress,) = ingresses
    notes = ingress["metadata"]["annotations"]
    assert notes[NGINX + "backend-protocol"] == "HTTPS"
    assert notes[NGINX + "proxy-ssl-verify"] == "on"
    assert notes[NGINX + "proxy-ssl-server-name"] == "on"
    where, _, ca = notes[NGINX + "proxy-ssl-secret"].partition("/")
    assert where == namespace, f"proxy-ssl-secret in {where}, not {namespace}"
    # A cert-manager Secret also holds a key, which the controller would present as a client.
    assert ca not in certificates, f"proxy-ssl-secret {ca} holds a certificate's key"
    assert notes[NGINX + "proxy-ssl-name"] in certificates["portal-https-tls"]["dnsNames"]
    hosts = {h: tls["secretName"] for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in hosts, f"{rule['host']} is served without TLS"
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend == {"name": "portal", "port": {"name": "https"}}, backend
    for secret in {ca, *hosts.values()}:
        assert f"`{secret}`" in readme, f"Secret {secret} is not in deploy/k8s/secrets/README.md"


def _real_digest(image: str) -> bool:
    """Pinned by a digest that could be one: 64 hex digits, not a filler such as the
    placeholder (a SHA-256 in hex shows nearly all 16 digits; fewer than 10 is no hash)."""
    found = SHA256.search(image)
    return found is not None and len(set(found.group(1))) >= 10


def _images(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, image) of every image an object names: containers' `image`, a Cluster's
    `imageName`, a Kafka's `spec.kafka.image`, wherever a new one appears."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("image", "imageName") and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from _images(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _images(item, f"{path}[{i}]")


def test_production_runs_pinned_images() -> None:
    """Every image by a real digest, but for two: the platform's, which may carry the
    pipeline's placeholder, and Strimzi's broker image, which may be its exact release tag for
    the Kafka version it runs (no digest of it could be had offline)."""
    docs = rendered("prod")
    kafka = _kafka(docs)["spec"]["kafka"]
    strimzi_tag = f"quay.io/strimzi/kafka:{STRIMZI}-kafka-{kafka['version']}"
    checked: set[tuple[str, str]] = set()
    for doc in docs:
        for where, image in _images(doc):
            at = f"{doc['kind']}/{doc['metadata']['name']}{where}: {image}"
            checked.add((doc["kind"], where))
            if image == f"{PLATFORM}@{PLACEHOLDER_DIGEST}":
                assert doc["kind"] in ("Deployment", "CronJob"), at
                assert re.search(r"\.spec\.(initContainers|containers)\[\d+\]\.image$", where), at
            elif (doc["kind"], where) == ("Kafka", ".spec.kafka.image"):
                assert image == strimzi_tag or _real_digest(image), at
            else:
                assert _real_digest(image), at
    assert {("Cluster", ".spec.imageName"), ("Kafka", ".spec.kafka.image")} <= checked


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_placeholder_is_prods_platform_image_and_documented(overlay: str) -> None:
    """The all-zero digest appears in overlays/prod only, as the platform's image, and the
    README tells the release pipeline to replace it."""
    text = rendered_text(overlay)
    if overlay != "prod":
        assert "0" * 64 not in text, f"{overlay} carries the placeholder digest"
        return
    platform = [c["image"] for _, spec in pod_specs(rendered(overlay)) for c in containers(spec)]
    assert text.count("0" * 64) == platform.count(f"{PLATFORM}@{PLACEHOLDER_DIGEST}")
    readme = (K8S / "README.md").read_text()
    assert f"`{PLACEHOLDER_DIGEST}`" in readme, "README does not name the placeholder"
    assert f"kustomize edit set image subsidy-platform={PLATFORM}@sha256:" in readme


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_image_names_a_full_version(overlay: str) -> None:
    (cluster,) = of_kind(rendered(overlay), "Cluster")
    assert re.search(r":\d+\.\d+-", cluster["spec"]["imageName"]), cluster["spec"]["imageName"]
