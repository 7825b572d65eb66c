"""The alert rules have one source, and the PrometheusRule made from it cannot drift."""

# The source: deploy/prometheus/alerts.yml (the services' own metrics) and alerts-kafka-exporter.yml
# (Strimzi's Kafka Exporter, Kubernetes only). The Kubernetes PrometheusRule is generated from them
# by scripts/gen_prometheusrule.py and cannot drift; the Kafka Exporter's alerts pass promtool and
# fire as they should. (alerts.yml itself is checked against the code and its promtool tests by
# test_grafana_dashboards.py.)

import difflib
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy.monitoring import RUNBOOK_BASE
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
KAFKA_EXPORTER_ALERTS = PROMETHEUS / "alerts-kafka-exporter.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"
GENERATOR = ROOT / "scripts" / "gen_prometheusrule.py"


def _generator() -> ModuleType:
    return load_script("gen_prometheusrule")


def _rules(path: Path) -> list[dict[str, str]]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _promtool(*args: str, cwd: Path | None = None) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run scripts/bootstrap.sh promtool", pytrace=False)
    done = subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_the_prometheusrule_is_generated_from_the_rule_files() -> None:
    """Edit deploy/prometheus/alerts*.yml, then `uv run python scripts/gen_prometheusrule.py`."""
    fresh = _generator().render()
    committed = PROMETHEUS_RULE.read_text("utf-8")
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "committed",
            "generated",
        )
    )
    assert committed == fresh, f"run scripts/gen_prometheusrule.py:\n{diff}"
    assert fresh == _generator().render(), "the output is not deterministic"


def test_the_prometheusrule_holds_every_alert_once() -> None:
    doc = yaml.safe_load(PROMETHEUS_RULE.read_text("utf-8"))
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    assert doc["metadata"] == {"name": "subsidy"}
    deployed = [rule["alert"] for group in doc["spec"]["groups"] for rule in group["rules"]]
    sources = [rule["alert"] for path in (ALERTS, KAFKA_EXPORTER_ALERTS) for rule in _rules(path)]
    assert deployed == sources
    assert len(set(deployed)) == len(deployed)


def test_the_generator_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    generator = _generator()
    extra = tmp_path / "extra.yml"
    extra.write_text("groups:\n  - name: x\n    rules: []\nother: 1\n", "utf-8")
    with pytest.raises(ValueError, match="only `groups:` may be at the top level"):
        generator._groups_text(extra)
    twice = tmp_path / "twice.yml"
    twice.write_text(ALERTS.read_text("utf-8"), "utf-8")
    with pytest.raises(ValueError, match="group names used more than once"):
        generator.render((ALERTS, twice))


def test_only_the_kafka_exporter_file_reads_the_kafka_exporter() -> None:
    """alerts.yml must hold wherever the services are scraped: no kafka_* series in it; the
    Kafka Exporter's file holds only what needs the exporter."""
    for rule in _rules(ALERTS):
        assert not re.search(r"\bkafka_", rule["expr"]), rule["alert"]
    for rule in _rules(KAFKA_EXPORTER_ALERTS):
        assert "kafka_consumergroup_lag" in rule["expr"], rule["alert"]


def test_the_kafka_exporter_rules_pass_promtool() -> None:
    output = _promtool("check", "rules", str(KAFKA_EXPORTER_ALERTS))
    assert f"SUCCESS: {len(_rules(KAFKA_EXPORTER_ALERTS))} rules found" in output


def _lag(group: str, topic: str, partition: int, values: str) -> dict[str, str]:
    return {
        "series": f'kafka_consumergroup_lag{{namespace="subsidy",consumergroup="{group}",'
        f'topic="{topic}",partition="{partition}",pod="subsidy-kafka-exporter-1"}}',
        "values": values,
    }


# promtool unit tests of alerts-kafka-exporter.yml (series per minute, as in alerts.test.yml).
KAFKA_EXPORTER_TESTS: list[dict[str, Any]] = [
    {
        "name": "a lag over 1000 that keeps growing",
        "interval": "1m",
        "input_series": [
            _lag("subsidy-ledger", "entitlements.v1", 0, "0+100x60"),
            _lag("subsidy-ledger", "entitlements.v1", 1, "0+50x60"),
            # Behind but steady (KEDA keeps up): not growing.
            _lag("subsidy-notifier", "decisions.v1", 0, "5000x60"),
            # Not one of the platform's groups.
            _lag("someone-else", "entitlements.v1", 0, "0+100x60"),
        ],
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "SubsidyConsumerLagGrowing", "exp_alerts": []},
            {
                "eval_time": "30m",
                "alertname": "SubsidyConsumerLagGrowing",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "ticket",
                            "namespace": "subsidy",
                            "consumergroup": "subsidy-ledger",
                            "topic": "entitlements.v1",
                        },
                        "exp_annotations": {
                            "summary": "subsidy: 消费组 subsidy-ledger 在 entitlements.v1 上落后"
                            " 4.5k 条且仍在增长 / consumer group subsidy-ledger is 4.5k records"
                            " behind on entitlements.v1 and the lag keeps growing",
                            "description": "subsidy-ledger 在 entitlements.v1 上落后 4.5k 条，"
                            "15 分钟来仍在增长：决定会越来越迟。先看 KEDA 是否已到最大副本数"
                            "（kubectl get hpa），再找慢的那一段（docs/scaling.md）。 /"
                            " subsidy-ledger is 4.5k records behind on entitlements.v1 and still"
                            " falling behind after 15 min: decisions come later and later. First"
                            " check whether KEDA is at its maximum (`kubectl get hpa`), then find"
                            " the slow stage (docs/scaling.md).",
                            "runbook_url": RUNBOOK_BASE + "docs/runbook.md"
                            "#subsidyconsumerlaggrowing",
                        },
                    }
                ],
            },
            {"eval_time": "30m", "alertname": "SubsidyConsumerLagHigh", "exp_alerts": []},
        ],
    },
    {
        "name": "a lag of hours, whatever the trend",
        "interval": "1m",
        "input_series": [_lag("subsidy-eligibility", "enterprise-events.v1", 0, "600000x20")],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "SubsidyConsumerLagHigh", "exp_alerts": []},
            {
                "eval_time": "15m",
                "alertname": "SubsidyConsumerLagHigh",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "page",
                            "namespace": "subsidy",
                            "consumergroup": "subsidy-eligibility",
                            "topic": "enterprise-events.v1",
                        },
                        "exp_annotations": {
                            "summary": "subsidy: 消费组 subsidy-eligibility 在"
                            " enterprise-events.v1 上落后 600k 条 / consumer group"
                            " subsidy-eligibility is 600k records behind on enterprise-events.v1",
                            "description": "subsidy-eligibility 在 enterprise-events.v1 上落后"
                            " 600k 条（超过 50 万）：决定已迟到数小时，无论趋势如何。先看该组的"
                            " Pod 是否都在消费（每个分区的滞后），再看数据库。 /"
                            " subsidy-eligibility is 600k records behind on enterprise-events.v1"
                            " (over 500k): decisions are hours late, whatever the trend. First"
                            " check that every pod of the group consumes (the lag per partition),"
                            " then the database.",
                            "runbook_url": RUNBOOK_BASE + "docs/runbook.md#subsidyconsumerlaghigh",
                        },
                    }
                ],
            },
            {"eval_time": "15m", "alertname": "SubsidyConsumerLagGrowing", "exp_alerts": []},
        ],
    },
]


def test_the_kafka_exporter_alerts_fire_as_tested(tmp_path: Path) -> None:
    shutil.copy(KAFKA_EXPORTER_ALERTS, tmp_path / KAFKA_EXPORTER_ALERTS.name)
    tests = tmp_path / "kafka-exporter.test.yml"
    tests.write_text(
        yaml.safe_dump(
            {
                "rule_files": [KAFKA_EXPORTER_ALERTS.name],
                "evaluation_interval": "1m",
                "tests": KAFKA_EXPORTER_TESTS,
            },
            sort_keys=False,
        ),
        "utf-8",
    )
    _promtool("test", "rules", str(tests), cwd=tmp_path)
    fired = {
        case["alertname"]
        for test in KAFKA_EXPORTER_TESTS
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in _rules(KAFKA_EXPORTER_ALERTS)}
