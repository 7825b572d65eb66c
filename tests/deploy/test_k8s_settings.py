"""deploy/k8s against the code."""

# Each container runs a real `subsidy` command, sets only variables its settings class reads, sets
# every one it must, and its ports are the ones the code opens.
#
# The settings classes are introspected (pydantic-settings: field aliases, or env_prefix + field
# name; required fields), then instantiated from the manifest's own values — Secrets replaced by
# well-formed stand-ins (certificates by real ones a stand-in CA signed), mounted ConfigMap files by
# their rendered content, `$(VAR)` references expanded as the kubelet does — so a value the service
# would refuse at start fails here instead. A gRPC server's transport is built from its settings,
# and must be TLS with a certificate that loads; so is an HTTPS server's (the portal), whose gRPC
# clients must check their servers against a CA that loads.

import importlib
import re
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import AliasChoices, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from subsidy.cli.main import app
from subsidy.identity.sessions import key_pair_pem
from subsidy.infra.signing_keys import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, write_key_pair
from tests.deploy import k8s
from tests.deploy.k8s import OVERLAYS, Doc, containers, of_kind, pod_template, rendered
from tests.deploy.pki import write_tls_files

# Which settings class each command reads (the CLI builds exactly this one).
SETTINGS: dict[tuple[str, ...], str] = {
    ("eligibility", "worker"): "subsidy.eligibility.settings:EligibilitySettings",
    ("eligibility", "serve"): "subsidy.eligibility.settings:EligibilitySettings",
    ("ledger", "worker"): "subsidy.ledger.settings:LedgerSettings",
    ("ledger", "relay"): "subsidy.ledger.settings:LedgerSettings",
    ("db", "migrate"): "subsidy.infra.settings:CommonSettings",
    ("ledger", "serve"): "subsidy.ledger.api_settings:LedgerApiSettings",
    ("notify", "worker"): "subsidy.notifier.settings:NotifierSettings",
    ("notify", "serve"): "subsidy.notifier.settings:NotifierSettings",
    ("ingest-server",): "subsidy.ingest.settings:IngestSettings",
    ("dashboard", "serve"): "subsidy.dashboard.settings:DashboardSettings",
    ("payouts", "advance"): "subsidy.payouts.settings:PayoutsSettings",
    ("portal", "serve"): "subsidy.portal.settings:PortalSettings",
}

# Fields a command's settings class has but the command never uses, so their defaults are
# irrelevant (every other field that defaults to a loopback address must be set).
UNUSED: dict[tuple[str, ...], set[str]] = {
    ("eligibility", "worker"): {"grpc_address", "database_url"},
    ("eligibility", "serve"): {"database_url"},
    # A one-shot init container: no metrics server.
    ("db", "migrate"): {"metrics_port", "metrics_address"},
    # The admin API sends no mail.
    ("notify", "serve"): {"smtp_host", "smtp_sender"},
    ("notify", "worker"): {"grpc_address"},
    # Its /metrics is on its own HTTP port.
    ("dashboard", "serve"): {"metrics_port", "metrics_address"},
    # A CronJob's run to an end: no metrics server; it never talks to Kafka.
    ("payouts", "advance"): {"metrics_port", "metrics_address"},
    # It exports no metrics yet; it never talks to Kafka.
    ("portal", "serve"): {"metrics_port", "metrics_address"},
}

# A session key pair, as `subsidy identity keygen` prints it: Secrets that hold PEM in a
# variable (the portal's PORTAL_SESSION_PRIVATE_KEY, the services' SESSION_PUBLIC_KEY).
_SESSION_PRIVATE, _SESSION_PUBLIC = key_pair_pem()
# Well-formed stand-ins for what Secrets hold, by key.
SECRET_VALUES = {
    "uri": "postgresql://user:password@subsidy-db-rw:5432/subsidy",
    "credentials": '{"js-provincial-cert-feed": {"token_sha256": ["' + "c" * 64 + '"],'
    ' "event_types": ["certificationObtained"], "sources": ["js-provincial-cert-feed"]}}',
    "auditor-tokens": '{"auditor-li": {"tokens": ["auditor-token-0123456789abcdef"]}}',
    "auditor-token-sha256": "a" * 64,
    "writer-token-sha256": "b" * 64,
    "admin-token": "admin-token-0123456789abcdef",
    # whsec_ and the base64 of 24 bytes ("key" eight times), as the notifier requires.
    "webhook-secrets": '{"91320594MA1X7K2Q8F": "whsec_' + "a2V5" * 8 + '"}',
    # A KafkaUser's SCRAM password (the User Operator's Secret).
    "password": "scram-password-0123456789",
    "private-key": _SESSION_PRIVATE,
    "public-key": _SESSION_PUBLIC,
}
# Well-formed stand-ins for Secrets mounted as files, by key: the files a pod would see (a
# fresh signing key pair; a CA, and a server certificate and key it signed).
SECRET_FILES = {
    "private-key": PRIVATE_KEY_NAME,
    "public-key": PUBLIC_KEY_NAME,
    "ca.crt": "ca.crt",
    "tls.crt": "tls.crt",
    "tls.key": "tls.key",
}
LOOPBACK = re.compile(r"127\.0\.0\.1|localhost|\[::1\]")
# A reference the kubelet expands in a variable's value: $(NAME), NAME defined before it.
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def settings_class(command: tuple[str, ...]) -> type[BaseSettings]:
    module, _, name = SETTINGS[command].partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type)
    assert issubclass(cls, BaseSettings)
    return cls


def env_names(cls: type[BaseSettings], name: str, field: FieldInfo) -> set[str]:
    """The variables pydantic-settings reads for a field (case-insensitively)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return {c.upper() for c in alias.choices if isinstance(c, str)}
    if isinstance(alias, str):
        return {alias.upper()}
    return {f"{cls.model_config.get('env_prefix', '')}{name}".upper()}


def command_of(args: list[str]) -> tuple[str, ...]:
    """The command a container's args run: the words before the first option."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return tuple(words)


def cli_command(path: tuple[str, ...]) -> Any:
    """`subsidy <path>` as the CLI's (click) command, or None if it is no command (a group, or
    nothing). Groups are told by their `commands` mapping: typer vendors its own click, so
    click's classes do not match. Children are got as click gets them (get_command): the
    root loads its commands lazily, so its mapping holds only those already loaded."""
    node: Any = typer.main.get_command(app)
    for part in path:
        if not isinstance(getattr(node, "commands", None), dict):
            return None
        node = node.get_command(typer.Context(node), part)
        if node is None:
            return None
    return None if isinstance(getattr(node, "commands", None), dict) else node


def is_command(path: tuple[str, ...]) -> bool:
    """Whether `subsidy <path>` is a command of the CLI (and not a group)."""
    return cli_command(path) is not None


def parses(path: tuple[str, ...], options: list[str]) -> None:
    """The command takes these options (parsed as the CLI would, nothing run): a misspelt or
    removed option fails here instead of in the cluster."""
    command = cli_command(path)
    command.make_context(" ".join(("subsidy", *path)), list(options))


def workloads() -> Iterator[tuple[str, str, Doc, Doc, list[Doc]]]:
    """(overlay, pod name, container, pod spec, all objects) for every container of every
    workload (Deployments and CronJobs) of every overlay."""
    for overlay in OVERLAYS:
        docs = rendered(overlay)
        for d in k8s.workloads(docs):
            spec = pod_template(d)["spec"]
            for c in containers(spec):
                yield overlay, f"{d['metadata']['name']}/{c['name']}", c, spec, docs


CASES = list(workloads())
IDS = [f"{o}:{n}" for o, n, *_ in CASES]


def references(container: Doc) -> set[str]:
    """The variables other variables' values refer to as $(NAME): inputs of the kubelet's
    expansion, which no settings class need read."""
    return {
        name for var in container.get("env", []) for name in REFERENCE.findall(var.get("value", ""))
    }


def expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's expansion: $(NAME) becomes NAME's value if NAME is defined (earlier in
    the list), and stays as written otherwise."""
    return REFERENCE.sub(lambda m: env.get(m[1], m[0]), value)


def environment(container: Doc, spec: Doc, docs: list[Doc], files: Path) -> dict[str, str]:
    """What the container's process finds in its environment, Secrets stood in for."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        (cm,) = [
            d
            for d in of_kind(docs, "ConfigMap")
            if d["metadata"]["name"] == source["configMapRef"]["name"]
        ]
        env.update(cm["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(str(var["value"]), env)
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        if ref.get("optional"):
            continue  # absent unless someone sets it; the service must start without it
        assert ref["key"] in SECRET_VALUES, f"no stand-in for Secret key {ref['key']}"
        env[var["name"]] = SECRET_VALUES[ref["key"]]
    # Paths into mounted ConfigMaps: the file the pod would see, written out here.
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "secret" in volume:
            _secret_files(env, mount["mountPath"], volume["secret"], files)
            continue
        # A ConfigMap, or several projected into one directory.
        sources = (
            [volume] if "configMap" in volume else volume.get("projected", {}).get("sources", [])
        )
        names = {s["configMap"]["name"] for s in sources if "configMap" in s}
        if not names:
            continue
        data: dict[str, str] = {}
        for d in of_kind(docs, "ConfigMap"):
            if d["metadata"]["name"] in names:
                data.update(d["data"])
        for name, value in list(env.items()):
            if value.startswith(mount["mountPath"].rstrip("/") + "/"):
                key = value.removeprefix(mount["mountPath"].rstrip("/") + "/")
                local = files / f"{mount['name']}-{key}"
                local.write_text(data[key])
                env[name] = str(local)
    return env


def _secret_files(env: dict[str, str], mount_path: str, secret: Doc, files: Path) -> None:
    """Variables naming files of a mounted Secret point at stand-ins (a fresh key pair, a
    CA and a certificate it signed)."""
    keys = files / "secret-keys"
    if not keys.exists():
        write_key_pair(keys)
        for key, path in write_tls_files(files / "tls").items():
            shutil.copy(path, keys / SECRET_FILES[key])
    prefix = mount_path.rstrip("/") + "/"
    paths = {item["path"]: item["key"] for item in secret.get("items", [])}
    for name, value in list(env.items()):
        if value.startswith(prefix):
            key = paths.get(value.removeprefix(prefix), value.removeprefix(prefix))
            assert key in SECRET_FILES, f"no stand-in for Secret file {key}"
            env[name] = str(keys / SECRET_FILES[key])


@pytest.mark.parametrize(("overlay", "name", "container", "spec", "docs"), CASES, ids=IDS)
def test_container_settings(
    overlay: str,
    name: str,
    container: Doc,
    spec: Doc,
    docs: list[Doc],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = command_of(container["args"])
    assert command in SETTINGS, f"{name}: `subsidy {' '.join(command)}` is not in SETTINGS"
    assert is_command(command), f"{name}: `subsidy {' '.join(command)}` is not a CLI command"
    parses(command, container["args"][len(command) :])
    cls = settings_class(command)
    unused = UNUSED.get(command, set())
    env = environment(container, spec, docs, tmp_path)

    read = {n: env_names(cls, n, f) for n, f in cls.model_fields.items()}
    known = set().union(*read.values())
    # A variable the class does not read is a typo, or a setting that moved (unless it is
    # only there to be expanded into another: a Secret's value completed in the manifest).
    unread = set(env) - known - references(container)
    assert not unread, f"{name}: {sorted(unread)} are read by nobody"
    for field, names in read.items():
        info = cls.model_fields[field]
        given = names & set(env)
        if field in unused:
            continue
        if info.is_required():
            assert given, f"{name}: {field} ({'/'.join(sorted(names))}) is required"
        if isinstance(info.default, str) and LOOPBACK.search(info.default):
            # A pod's loopback is itself: this default cannot be meant in a cluster.
            assert given, f"{name}: {field} defaults to {info.default!r}; set it"
        if field == "metrics_port":
            assert given, f"{name}: metrics are off (0 by default)"
            assert int(env[sorted(given)[0]]) > 0, f"{name}: metrics are off"

    # The service would start with these values: instantiate from the environment alone.
    for variable in known:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    try:
        settings: Any = cls()
    except ValidationError as err:
        pytest.fail(f"{name}: the service would refuse its settings:\n{err}")
    check_ports(name, container, settings, unused)
    check_grpc_transport(name, container, settings, unused)
    check_https_transport(name, container, settings)
    check_kafka_login(name, command, settings)


# The commands that talk to Kafka (each checks its login at start: require_kafka_login).
KAFKA_COMMANDS = {
    ("eligibility", "worker"), ("ledger", "worker"), ("ledger", "relay"), ("ingest-server",),
    ("notify", "worker"),
}  # fmt: skip


def check_kafka_login(name: str, command: tuple[str, ...], settings: Any) -> None:
    """A container that talks to Kafka has a whole login, over TLS, checked against a CA."""
    if command not in KAFKA_COMMANDS:
        return
    kafka = settings.kafka  # a half-given login raises here, as the command would exit
    assert kafka.security_protocol == "SASL_SSL", f"{name}: Kafka over {kafka.security_protocol}"
    assert kafka.username, f"{name}: no Kafka login"
    assert kafka.cafile, f"{name}: no CA to check the brokers against"


def check_grpc_transport(name: str, container: Doc, settings: Any, unused: set[str]) -> None:
    """A container that serves gRPC serves it over TLS: the transport its settings give is a
    certificate (never plaintext), and the certificate and key load as server credentials."""
    if "grpc_address" not in type(settings).model_fields or "grpc_address" in unused:
        return
    if not any(p["name"] == "grpc" for p in container.get("ports", [])):
        return
    assert hasattr(settings, "grpc_transport"), f"{name}: its settings know no gRPC transport"
    from subsidy.infra.grpc_tls import ServerTls

    transport = settings.grpc_transport()
    assert isinstance(transport, ServerTls), f"{name}: gRPC served as {transport!r}, not TLS"
    assert transport.credentials() is not None, f"{name}: the certificate does not load"


def check_https_transport(name: str, container: Doc, settings: Any) -> None:
    """A container whose settings know HTTPS (the portal) serves it: never plaintext, its
    certificate and key load as a server's, its port is named https and probed over TLS;
    and its gRPC clients check the servers against a CA that loads, never plaintext."""
    if "tls_cert" not in type(settings).model_fields:
        return
    assert not settings.plaintext, f"{name}: HTTP served in plaintext"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)  # raises if they do not load
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert ports.get("https") == settings.port, f"{name}: containerPort https"
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe_name]["httpGet"]["scheme"] == "HTTPS", f"{name}: {probe_name}"
    if "grpc_plaintext" in type(settings).model_fields:
        assert not settings.grpc_plaintext, f"{name}: relays gRPC in plaintext"
        assert settings.grpc_ca is not None, f"{name}: gRPC servers checked by no CA"
        ssl.create_default_context(cafile=str(settings.grpc_ca))  # raises if it does not load


def check_ports(name: str, container: Doc, settings: Any, unused: set[str]) -> None:
    """Declared ports and probes are the ones the process listens on."""
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    if "grpc_address" in type(settings).model_fields and "grpc_address" not in unused:
        host, _, port = settings.grpc_address.rpartition(":")
        assert host in ("0.0.0.0", "[::]"), f"{name}: gRPC bound to {host}, unreachable"
        assert ports.get("grpc") == int(port), f"{name}: containerPort grpc != {port}"
    if "metrics_port" not in unused and "metrics" in ports:
        assert ports["metrics"] == settings.metrics_port, f"{name}: metrics port"
    if "port" in type(settings).model_fields and "host" in type(settings).model_fields:
        assert not LOOPBACK.search(settings.host), f"{name}: HTTP bound to {settings.host}"
        web = "https" if "tls_cert" in type(settings).model_fields else "http"
        assert ports.get(web) == settings.port, f"{name}: containerPort {web}"
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(probe_name)
        if probe is None:
            continue
        if "grpc" in probe:
            assert probe["grpc"]["port"] == ports["grpc"], f"{name}: {probe_name}"
        elif "tcpSocket" in probe:
            # A TLS gRPC port, which the kubelet's (plaintext) gRPC probe cannot ask.
            assert probe["tcpSocket"]["port"] == ports["grpc"], f"{name}: {probe_name}"
        elif probe["httpGet"]["port"] == "metrics":
            # A consumer is probed on its metrics endpoint, which must then face the pod.
            assert ports["metrics"] == settings.metrics_port, f"{name}: {probe_name} port"
            assert not LOOPBACK.search(settings.metrics_address), f"{name}: metrics on loopback"
        else:
            served = {ports.get("http"), ports.get("https"), "http", "https"} - {None}
            assert probe["httpGet"]["port"] in served, f"{name}: {probe_name}"


def test_every_command_of_the_manifests_is_covered() -> None:
    """Every command SETTINGS knows is deployed somewhere, so the table does not rot."""
    deployed = {command_of(c["args"]) for _, _, c, _, _ in CASES}
    assert set(SETTINGS) == deployed
