"""Each process of the platform logs in to Kafka as its own service, never as the admin, and
the run's grants cover exactly its own topics and groups."""

import json
from pathlib import Path

from subsidy.harness.platform import Run, service_specs
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


def _specs(tmp_path: Path, kafka_passwords: Path | None) -> dict[str, dict[str, str]]:
    db_passwords = tmp_path / "pg.json"
    logins = ("ledger_worker", "ledger_relay", "ingest_server", "notifier_worker", "ledger_api",
              "dashboard")  # fmt: skip
    db_passwords.write_text(json.dumps({login: f"pw-{login}" for login in logins}))
    run = Run(directory=tmp_path / "run")
    specs = service_specs(run, ADMIN, "postgresql://h/db", 25, db_passwords, kafka_passwords)
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


def test_without_service_logins_every_service_uses_the_one_given(tmp_path: Path) -> None:
    envs = _specs(tmp_path, tmp_path / "absent.json")
    assert {envs[n]["KAFKA_SASL_USERNAME"] for n in EXPECTED} == {access.ADMIN}


def test_a_runs_grants_name_only_its_own_topics_and_groups() -> None:
    run = Run(stamp="20261206")
    names = {g.name for g in run.grants()}
    assert names == set(run.topics.values()) | {run.group(s) for s in ("eligibility", "ledger",
                                                                         "notifier")}  # fmt: skip
    assert len(run.grants()) == len(access.grants())
