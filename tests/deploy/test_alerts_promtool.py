"""promtool accepts the alert rules, their tests, the Prometheus config and every panel query."""

import re
from pathlib import Path

import yaml

from tests.deploy.monitoring import (
    ALERT_TESTS,
    ALERTS,
    PROMETHEUS_CONFIG,
    alert_rules,
    grafana_exprs,
    run_promtool,
)


def test_alert_rules_pass_promtool() -> None:
    output = run_promtool("check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(alert_rules())} rules found" in output


def test_alert_rules_fire_as_tested() -> None:
    run_promtool("test", "rules", str(ALERT_TESTS))


def test_prometheus_config_passes_promtool() -> None:
    run_promtool("check", "config", str(PROMETHEUS_CONFIG))


def test_grafana_queries_parse(tmp_path: Path) -> None:
    """Every panel query is valid PromQL: promtool checks them as recording rules, with
    Grafana's interval variables replaced by a duration and the dashboard's namespace and job
    by what "All" puts there (.*)."""
    rules = []
    for n, (title, expr) in enumerate(grafana_exprs()):
        concrete = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
        concrete = re.sub(r"\$(namespace|job)\b", ".*", concrete)
        assert "$" not in concrete, f"panel {title!r}: a variable promtool cannot check"
        rules.append({"record": f"grafana:query_{n}", "expr": concrete})
    path = tmp_path / "grafana_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}), "utf-8")
    output = run_promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output
