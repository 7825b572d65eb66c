"""Each process of the platform logs in to Kafka as its own service, never as the admin."""

# The run's grants cover exactly its own topics and groups.

import json
from pathlib import Path

import pytest

from subsidy.devstack.db_logins import LOGINS
from subsidy.devstack.errors import DevstackError
from subsidy.harness import platform
from subsidy.harness.platform import Run, service_specs
from subsidy.harness.processes import child_env
from subsidy.infra import kafka_access as access
from subsidy.infra.kafka_client import KafkaConnection

ADMIN = KafkaConnection("127.0.0.1:1", username=access.ADMIN, password="admin-password")
EXPECTED = {
    "eligibility": access.ELIGIBILITY,
    "ledger-worker": access.LEDGER_WORKER,
    "ledger-relay": access.LEDGER_RELAY,
    "ingest": access.INGEST,
    "notifier": access.NOTIFIER,
}


def _db_passwords(tmp_path: Path) -> Path:
    path = tmp_path / "pg.json"
    path.write_text(json.dumps({login: f"pw-{login}" for login in LOGINS}))
    return path


def _specs(
    tmp_path: Path, kafka_passwords: Path | None, own: bool = True
) -> dict[str, dict[str, str]]:
    """The specs' environments; own=False: as on an external broker (no logins of ours)."""
    run = Run(directory=tmp_path / "run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(platform, "own_broker", lambda: own)
        specs = service_specs(
            run, ADMIN, "postgresql://h/db", 25, _db_passwords(tmp_path), kafka_passwords
        )
    return {spec.name: dict(spec.env) for spec in specs}


def test_every_kafka_client_is_its_own_principal(tmp_path: Path) -> None:
    passwords = tmp_path / "kafka.json"
    passwords.write_text(json.dumps({p: f"pw-{p}" for p in (access.ADMIN, *access.SERVICES)}))
    envs = _specs(tmp_path, passwords)
    for name, principal in EXPECTED.items():
        assert envs[name]["KAFKA_SASL_USERNAME"] == principal, name
        assert envs[name]["KAFKA_SASL_PASSWORD"] == f"pw-{principal}", name
    # The API and the dashboard never talk to Kafka: no login at all.
    for name in ("ledger-api", "dashboard"):
        assert not any(k.startswith("KAFKA_SASL") for k in envs[name]), name


def test_an_external_broker_gives_every_service_the_one_login(tmp_path: Path) -> None:
    envs = _specs(tmp_path, None, own=False)
    assert {envs[n]["KAFKA_SASL_USERNAME"] for n in EXPECTED} == {access.ADMIN}


def test_a_service_login_missing_on_our_broker_is_an_error_not_the_admins(
    tmp_path: Path,
) -> None:
    with pytest.raises(DevstackError, match="no Kafka login for subsidy-"):
        _specs(tmp_path, tmp_path / "absent.json")


def test_no_child_inherits_a_login_of_the_parents(tmp_path: Path) -> None:
    """The tests (and a shell that sourced .run/stack.env) hold the admin's Kafka login and the
    owner's database URL: what a child is started with has neither."""
    passwords = tmp_path / "kafka.json"
    passwords.write_text(json.dumps({p: f"pw-{p}" for p in (access.ADMIN, *access.SERVICES)}))
    parent = {**ADMIN.env(), "DATABASE_URL": "postgresql://owner:secret@h/db", "PATH": "/bin",
              "GRPC_TLS_CERT": "/shell/cert.pem"}  # fmt: skip
    run = Run(directory=tmp_path / "run")
    specs = service_specs(run, ADMIN, "postgresql://h/db", 25, _db_passwords(tmp_path), passwords)
    children = {spec.name: child_env(spec, parent) for spec in specs}
    for name, env in children.items():
        assert env["PATH"] == "/bin", name
        assert env.get("KAFKA_SASL_PASSWORD") != "admin-password", name
        assert "owner" not in env.get("DATABASE_URL", ""), name
        assert env.get("GRPC_TLS_CERT") != "/shell/cert.pem", name
    assert not any(k.startswith("KAFKA_") for k in children["dashboard"])
    assert children["ingest"]["KAFKA_SASL_USERNAME"] == access.INGEST


def test_a_runs_grants_name_only_its_own_topics_and_groups() -> None:
    run = Run(stamp="20261206")
    names = {g.name for g in run.grants()}
    assert names == set(run.topics.values()) | {run.group(s) for s in ("eligibility", "ledger",
                                                                         "notifier")}  # fmt: skip
    assert len(run.grants()) == len(access.grants())
