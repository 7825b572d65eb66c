"""One run of the whole platform: names, addresses, secrets, services, topics, subscribers."""

# Its names, addresses, secrets and services, its topics, and the enterprises and bureaus that
# subscribe. The main job, the benchmark, the fault suite and the end-to-end tests each start the
# platform through it.

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg

from subsidy.devstack import kafka_grants, kafka_logins
from subsidy.devstack.db_logins import login_url
from subsidy.devstack.endpoints import external_kafka
from subsidy.devstack.errors import DevstackError
from subsidy.devstack.kafka_admin import admin_client, ensure_topics
from subsidy.devstack.local_ca import GRPC_CERT_NAME, CertFiles, ensure_cert
from subsidy.devstack.paths import layout
from subsidy.devstack.secret_store import read_secrets
from subsidy.domain.catalog import Catalog
from subsidy.harness.people import PORTAL_PORT, Person, SessionKeys, portal_spec
from subsidy.harness.principals import Principal, auditors_json, credentials_json, demo_principals
from subsidy.harness.processes import Running, ServiceSpec
from subsidy.infra import kafka_access as access
from subsidy.infra.grpc_tls import CERT_ENV, KEY_ENV, ClientTls
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.signing_keys import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, write_key_pair
from subsidy.infra.topics import PARTITIONS, Topic
from subsidy.notifier.repository import put_subscriptions
from subsidy.notifier.signing import new_secret
from subsidy.notifier.subscriptions import Subscription, subscribable

DEMO_DATABASE = "subsidy_demo"
# Fixed ports, so that KEEP=1 can say where to look; a clash fails loudly at start.
INGEST_ADDRESS = "127.0.0.1:50051"
LEDGER_API_ADDRESS = "127.0.0.1:50081"
DASHBOARD_PORT = 8088
METRICS_PORTS = {
    "eligibility": 9101,
    "ledger-worker": 9102,
    "ledger-relay": 9103,
    "ingest": 9104,
    "notifier": 9105,
    "ledger-api": 9106,
}
# The enterprises that subscribe to their decisions (webhook and mail), first come in the feed.
SUBSCRIBED_ENTERPRISES = 20


@dataclass
class Run:
    """One run's names, addresses, secrets and services."""

    database: str = DEMO_DATABASE
    ingest_address: str = INGEST_ADDRESS
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(METRICS_PORTS))
    stamp: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S"))
    ledger_api_address: str = LEDGER_API_ADDRESS
    dashboard_port: int = DASHBOARD_PORT
    portal_port: int = PORTAL_PORT
    # The portal signs people's sessions with the private half; the gRPC servers check them.
    session_keys: SessionKeys = field(default_factory=SessionKeys.make)
    people: list[Person] = field(default_factory=list)  # issued once the ledger has decided
    # The submitters: a credential per feed, and the reviewer's (subsidy.harness.principals).
    principals: dict[str, Principal] = field(default_factory=demo_principals)
    auditor_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    webhook_secret: str = field(default_factory=new_secret)  # whsec_<base64>
    services: list[Running] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)
    policy_catalog: Path | None = None
    policy_overlay: Path | None = None
    # The run's own files: the ledger's key pair and its anchor log (default .run/runs/<stamp>).
    directory: Path | None = None

    def topic(self, name: str) -> str:
        return f"demo.{self.stamp}.{name}"

    @property
    def topics(self) -> dict[str, str]:
        names = ("enterprise-events.v1", "entitlements.v1", "decisions.v1", "dead-letters.v1",
                 "ledger-anchors.v1", "appeals.v1")  # fmt: skip
        return {n: self.topic(n) for n in names}

    def group(self, service: str) -> str:
        return f"demo-{self.stamp}-{service}"

    def grants(self) -> tuple[access.Grant, ...]:
        """The access table for this run's topics and groups."""
        t = self.topics
        return access.grants(
            access.TopicNames(
                t["enterprise-events.v1"], t["entitlements.v1"], t["decisions.v1"],
                t["dead-letters.v1"], t["ledger-anchors.v1"], t["appeals.v1"],
            ),
            access.GroupIds(
                self.group("eligibility"), self.group("ledger"), self.group("notifier")
            ),
        )  # fmt: skip

    @property
    def files(self) -> Path:
        return self.directory or layout().run / "runs" / self.stamp

    def grpc_tls(self) -> CertFiles:
        """The gRPC servers' certificate (this host's names and loopback addresses), signed by
        the local CA: in the run's own directory if it has one, else the checkout's .run/tls/."""
        return ensure_cert(self.directory or layout().tls_dir, GRPC_CERT_NAME)

    def grpc_client(self) -> ClientTls:
        """How the run's clients check its gRPC servers: against the CA that signed them."""
        return ClientTls(self.grpc_tls().ca)

    @property
    def anchor_file(self) -> Path:
        return self.files / "anchors.jsonl"

    def signing_keys(self) -> tuple[Path, Path]:
        """The run's ledger key pair (private, public), made on first use: a key per run."""
        private, public = self.files / PRIVATE_KEY_NAME, self.files / PUBLIC_KEY_NAME
        if not private.exists():
            write_key_pair(self.files)
        return private, public


def _common_env(run: Run) -> dict[str, str]:
    """What every process gets: the log level, and the policy simulate is compared under (one
    catalog, one overlay)."""
    common = {"LOG_LEVEL": "INFO"}
    for key, path in (("POLICY_CATALOG", run.policy_catalog),
                      ("POLICY_OVERLAY", run.policy_overlay)):  # fmt: skip
        if path is not None:
            common[key] = str(path.resolve())
    return common


def _ledger_envs(
    run: Run, common: dict[str, str], worker_db: dict[str, str], relay_db: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The ledger worker's and the relay's environments. Only the relay signs (decisions and
    anchors): the worker never holds the key."""
    t = run.topics
    private_key, _ = run.signing_keys()
    ledger = {**common, **worker_db, "LEDGER_INPUT_TOPIC": t["entitlements.v1"],
              "LEDGER_DECISIONS_TOPIC": t["decisions.v1"],
              "LEDGER_DEAD_LETTER_TOPIC": t["dead-letters.v1"],
              "LEDGER_ANCHOR_TOPIC": t["ledger-anchors.v1"],
              "LEDGER_APPEALS_TOPIC": t["appeals.v1"],
              "LEDGER_GROUP_ID": run.group("ledger")}  # fmt: skip
    relay = {**ledger, **relay_db, "LEDGER_SIGNING_KEY_FILE": str(private_key),
             "LEDGER_ANCHOR_FILE": str(run.anchor_file)}  # fmt: skip
    return ledger, relay


def own_broker() -> bool:
    """True when Kafka is the local stack's, whose logins and ACLs the harness manages; an
    external one (KAFKA_BOOTSTRAP) keeps its own, and the run uses the login it was given."""
    return external_kafka() is None


def kafka_login(kafka: KafkaConnection, passwords: Path | None, principal: str) -> dict[str, str]:
    """A service's Kafka environment: as its own principal, from the logins kept in `passwords`
    (the local stack's, kafka_logins; one missing there is an error, never the admin's), or
    with no such file as `kafka` itself (an external broker that gives the run one login)."""
    if passwords is None:
        return kafka.env()
    password = read_secrets(passwords).get(principal)
    if password is None:
        raise DevstackError(f"no Kafka login for {principal} in {passwords}: run `subsidy dev up`")
    return kafka.as_user(principal, password).env()


def _over_tls(run: Run, specs: list[ServiceSpec]) -> list[ServiceSpec]:
    """The gRPC servers among specs serve TLS with the run's certificate, and their health is
    checked against its CA."""
    tls = run.grpc_tls()
    served = {CERT_ENV: str(tls.cert), KEY_ENV: str(tls.key)}
    return [replace(s, env={**s.env, **served}, grpc_ca=tls.ca) if s.grpc_address else s
            for s in specs]  # fmt: skip


def _kafka_envs(kafka: KafkaConnection, passwords: Path | None) -> dict[str, dict[str, str]]:
    """Each Kafka-using service's login, by principal (kafka_login)."""
    if passwords is None and own_broker():
        passwords = kafka_logins.passwords_path(layout())
    return {principal: kafka_login(kafka, passwords, principal) for principal in access.SERVICES}


def service_specs(
    run: Run,
    kafka: KafkaConnection,
    database_url: str,
    smtp_port: int,
    passwords: Path | None = None,
    kafka_passwords: Path | None = None,
) -> list[ServiceSpec]:
    """Each process of the platform, logged in to database_url's database as its own role
    (db_logins; passwords from `passwords`), never as the owner, and to Kafka as its own
    principal (_kafka_envs; passwords from `kafka_passwords`)."""
    t = run.topics
    ports = {name: str(run.metrics_ports.get(name, 0)) for name in METRICS_PORTS}
    common = _common_env(run)
    on_kafka = _kafka_envs(kafka, kafka_passwords)

    def db(login: str) -> dict[str, str]:
        return {"DATABASE_URL": login_url(database_url, login, passwords)}

    ledger, relay = _ledger_envs(run, common, db("ledger_worker"), db("ledger_relay"))
    ledger |= on_kafka[access.LEDGER_WORKER]
    relay |= on_kafka[access.LEDGER_RELAY]
    relay["LEDGER_METRICS_PORT"] = ports["ledger-relay"]
    _, public_key = run.signing_keys()
    return _over_tls(run, [
        ServiceSpec("eligibility", ("eligibility", "worker"), {
            **common, **on_kafka[access.ELIGIBILITY],
            "ELIGIBILITY_INPUT_TOPIC": t["enterprise-events.v1"],
            "ELIGIBILITY_OUTPUT_TOPIC": t["entitlements.v1"],
            "ELIGIBILITY_DEAD_LETTER_TOPIC": t["dead-letters.v1"],
            "ELIGIBILITY_GROUP_ID": run.group("eligibility"),
            "ELIGIBILITY_METRICS_PORT": ports["eligibility"]}),
        ServiceSpec("ledger-worker", ("ledger", "worker"),
                    {**ledger, "LEDGER_METRICS_PORT": ports["ledger-worker"]}),
        ServiceSpec("ledger-relay", ("ledger", "relay"), relay),
        ServiceSpec("ingest", ("ingest-server",), {
            **common, **on_kafka[access.INGEST], **db("ingest_server"),
            "INGEST_TOPIC": t["enterprise-events.v1"],
            # The backlog bulk is admitted under is this run's groups' lag, not the defaults'.
            "INGEST_ELIGIBILITY_GROUP_ID": run.group("eligibility"),
            "INGEST_LEDGER_GROUP_ID": run.group("ledger"),
            "INGEST_ENTITLEMENTS_TOPIC": t["entitlements.v1"],
            "INGEST_CREDENTIALS": credentials_json(run.principals.values()),
            "INGEST_GRPC_ADDRESS": run.ingest_address,
            "SESSION_PUBLIC_KEY": run.session_keys.public_pem,
            "INGEST_METRICS_PORT": ports["ingest"]}, grpc_address=run.ingest_address),
        ServiceSpec("notifier", ("notify", "worker"), {
            **common, **on_kafka[access.NOTIFIER], **db("notifier_worker"),
            "NOTIFIER_TOPIC": t["decisions.v1"], "NOTIFIER_GROUP_ID": run.group("notifier"),
            "NOTIFIER_APPEALS_TOPIC": t["appeals.v1"],
            "NOTIFIER_DEAD_LETTER_TOPIC": t["dead-letters.v1"],
            "NOTIFIER_LEDGER_PUBLIC_KEY_FILE": str(public_key),
            "NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": str(smtp_port),
            "NOTIFIER_WEBHOOK_SECRETS": json.dumps({e: run.webhook_secret for e in run.subscribed}),
            "NOTIFIER_MAX_ATTEMPTS": "5", "NOTIFIER_BACKOFF_BASE_SECONDS": "0.5",
            "NOTIFIER_METRICS_PORT": ports["notifier"]}),
        # The API and the dashboard read as members of subsidy_auditor (docs/security.md).
        ServiceSpec("ledger-api", ("ledger", "serve"), {
            **common, "LEDGER_API_DATABASE_URL": db("ledger_api")["DATABASE_URL"],
            "LEDGER_API_AUDITOR_TOKENS": auditors_json(run.auditor_token),
            "LEDGER_API_GRPC_ADDRESS": run.ledger_api_address,
            "SESSION_PUBLIC_KEY": run.session_keys.public_pem,
            "LEDGER_API_METRICS_PORT": ports["ledger-api"]}, grpc_address=run.ledger_api_address),
        ServiceSpec("dashboard", ("dashboard", "serve"), {
            **common, **db("dashboard"), "DASHBOARD_PORT": str(run.dashboard_port)},
            health_url=f"http://127.0.0.1:{run.dashboard_port}/healthz"),
        portal_spec(run.portal_port, run.session_keys, common, db("portal")["DATABASE_URL"], {
            "ledger_api": run.ledger_api_address, "ingest": run.ingest_address,
            "ca": str(run.grpc_tls().ca)}),
    ])  # fmt: skip


def _first_enterprises(events: Path, count: int) -> list[str]:
    """The first `count` distinct enterprise ids of a feed."""
    seen: list[str] = []
    for line in events.read_bytes().splitlines():
        try:
            enterprise = json.loads(line).get("enterpriseId")
        except ValueError:
            continue
        if isinstance(enterprise, str) and len(enterprise) == 18 and enterprise not in seen:
            seen.append(enterprise)
        if len(seen) == count:
            break
    return seen


async def subscribe(url: str, run: Run, events: Path, catalog: Catalog, webhook: str) -> None:
    """The first enterprises of the feed subscribe (webhook and mail, zh or en); every bureau
    takes its cases by mail."""
    seen = await asyncio.to_thread(_first_enterprises, events, SUBSCRIBED_ENTERPRISES)
    run.subscribed = seen
    subs = [
        Subscription(
            "enterprise", e, webhook, f"finance@{e.lower()}.example", "en" if i % 4 == 0 else "zh"
        )
        for i, e in enumerate(seen)
    ]
    subs += [Subscription("bureau", b, None, f"bureau{i}@gov.example", "zh")
             for i, b in enumerate(sorted(subscribable(catalog)))]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await put_subscriptions(conn, subs)
    finally:
        await conn.close()


def create_topics(
    run: Run, kafka: KafkaConnection, grant: bool | None = None, replicas: int = 1
) -> None:
    """The run's topics (`replicas` copies each), and (on a broker of our own, own_broker())
    its services' ACLs."""
    single = ("dead-letters", "ledger-anchors")
    ensure_topics(kafka, tuple(
        Topic(name, 1 if any(s in name for s in single) else PARTITIONS, "demo")
        for name in run.topics.values()), replicas)  # fmt: skip
    if own_broker() if grant is None else grant:
        kafka_grants.grant(kafka, run.grants())


def delete_topics(run: Run, kafka: KafkaConnection, grant: bool | None = None) -> None:
    """The run's topics and the ACLs on them."""
    if own_broker() if grant is None else grant:
        kafka_grants.revoke(kafka, run.grants())
    admin = admin_client(kafka)
    try:
        admin.delete_topics(list(run.topics.values()), timeout_ms=30_000)
    finally:
        admin.close()
