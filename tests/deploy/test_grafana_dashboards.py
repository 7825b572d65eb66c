"""The Grafana dashboard and the alert rules use only metrics and labels the code exports."""

import re

import pytest
import yaml

from subsidy.dashboard.view import measure_titles
from subsidy.domain.catalog import load_catalog
from subsidy.domain.enums import DISTRICT_NAMES_ZH
from tests.deploy.monitoring import (
    ALERT_TESTS,
    ROOT,
    alert_rules,
    check_usage,
    exported,
    grafana,
    grafana_exprs,
    grafana_panels,
    metrics_in_source,
    promql_usage,
)


def test_exported_metrics_are_found_with_their_suffixes() -> None:
    known = exported()
    assert known["subsidy_ledger_granted_fen_total"] >= {"measure", "district"}
    assert "subsidy_ledger_granted_fen" not in known  # a counter is only seen as _total
    assert {"subsidy_ledger_commit_seconds_bucket", "subsidy_ledger_commit_seconds_sum",
            "subsidy_ledger_commit_seconds_count"} <= known.keys()  # fmt: skip
    assert "le" in known["subsidy_ledger_commit_seconds_bucket"]
    assert "subsidy_notifier_in_flight" in known  # a gauge as it is
    assert "subsidy_dashboard_clients" in known
    assert "process_resident_memory_bytes" in known  # the client's default collectors
    # Modules using collections.Counter construct no metric.
    assert metrics_in_source(ROOT / "services/ingest/subsidy/ingest/client.py") == {}


def test_promql_reading() -> None:
    usage = promql_usage(
        'histogram_quantile(0.95, sum by (le, channel) (rate(a_bucket{channel="x"}[5m])))'
        " / on (channel) group_left sum without (instance) (b_total offset 1h) > bool 2"
        ' and c{d=~"$district", e!="}"} or vector(0) unless {__name__="f"}'
    )
    assert usage.metrics == {"a_bucket", "b_total", "c"}
    assert usage.grouping == {"le", "channel", "instance"}
    assert (None, frozenset({"__name__"})) in usage.selectors
    assert ("c", frozenset({"d", "e"})) in usage.selectors
    with pytest.raises(ValueError, match="unknown PromQL function 'rat'"):
        promql_usage("rat(a_total[5m])")
    assert check_usage("x", "sum(rate(subsidy_ledger_decisions[5m]))") == [
        "x: no code exports 'subsidy_ledger_decisions'"
    ]
    assert check_usage("x", "sum by (channel) (rate(subsidy_ledger_decisions_total[5m]))") == [
        "x: groups by 'channel', which none of its metrics has"
    ]
    assert check_usage("x", 'subsidy_ledger_inbox_total{status="y"}') == [
        "x: subsidy_ledger_inbox_total has no label 'status'"
    ]


def test_grafana_queries_use_exported_metrics() -> None:
    exprs = grafana_exprs()
    assert len(exprs) >= 20
    problems = [p for title, expr in exprs for p in check_usage(f"panel {title!r}", expr)]
    assert problems == []


def test_alert_rules_use_exported_metrics() -> None:
    rules = alert_rules()
    problems = [p for rule in rules for p in check_usage(f"alert {rule['alert']}", rule["expr"])]
    assert problems == []


def test_dashboards_cover_what_operators_watch() -> None:
    """Money by measure and district, decisions per second, lag, dead letters, notifier
    failures, cap denials, the chains; and the alerts the platform needs."""
    used = {m for _, expr in grafana_exprs() for m in promql_usage(expr).metrics}
    assert {
        "subsidy_ledger_granted_fen_total",
        "subsidy_ledger_reversed_fen_total",
        "subsidy_ledger_decisions_total",
        "subsidy_ledger_outbox_oldest_unsent_seconds",
        "subsidy_ledger_dead_letters_total",
        "subsidy_eligibility_rejections_total",
        "subsidy_notifier_dead_total",
        "subsidy_notifier_retried_total",
        "subsidy_ledger_cap_denials_total",
        "subsidy_ledger_chain_ok",
        "subsidy_dashboard_clients",
    } <= used
    alerts = {rule["alert"] for rule in alert_rules()}
    assert {
        "SubsidyEligibilityFallingBehind",
        "SubsidyLedgerFallingBehind",
        "SubsidyNotifierFallingBehind",
        "SubsidyLedgerDeadLetters",
        "SubsidyLedgerChainVerificationFailed",
        "SubsidyNotifierDeadDeliveries",
    } <= alerts
    tested = yaml.safe_load(ALERT_TESTS.read_text("utf-8"))
    fired = {
        case["alertname"]
        for test in tested["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == alerts, "every alert needs a promtool test case in which it fires"


# The dashboard's variables that narrow every query: a deployment (several may share one
# Prometheus on Kubernetes) and a service's scrape job.
SCOPES = ("namespace", "job")


def test_grafana_scope_variables_read_the_platforms_metrics() -> None:
    """namespace and job are query variables over the platform's own series (job within the
    chosen namespace); "All" is .*, which also matches a plain Prometheus's series that have
    no namespace at all."""
    variables = {v["name"]: v for v in grafana()["templating"]["list"]}
    for name in SCOPES:
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert (variable["multi"], variable["includeAll"], variable["allValue"]) == (
            True,
            True,
            ".*",
        )
        # A classic query string: every Grafana since 7 reads it (the editor's object form
        # differs between versions).
        assert variable["definition"] == variable["query"]
        selector, label = _label_values(variable["definition"])
        assert label == name
        assert ("__name__", "=~", '"subsidy_.+"') in selector
    job, _ = _label_values(variables["job"]["definition"])
    assert ("namespace", "=~", '"$namespace"') in job


def _label_values(query: str) -> tuple[frozenset[tuple[str, str, str]], str]:
    """The matchers and the label of Grafana's `label_values({selector}, label)`."""
    match = re.fullmatch(r"label_values\((\{.*\}), (\w+)\)", query)
    assert match, query
    return promql_usage(match.group(1)).matchers[0], match.group(2)


def test_every_panel_query_is_narrowed_by_namespace_and_job() -> None:
    """Each series a panel reads is scoped by both variables, so choosing a deployment or a
    service changes every panel, not some."""
    wanted = {(name, "=~", f'"${name}"') for name in SCOPES}
    unscoped = [
        (title, name)
        for title, expr in grafana_exprs()
        for (name, _), matchers in zip(
            promql_usage(expr).selectors, promql_usage(expr).matchers, strict=True
        )
        if not wanted <= matchers
    ]
    assert unscoped == []


def test_grafana_model() -> None:
    """Panels have unique ids, sit on the 24-column grid, and read the chosen Prometheus;
    names shown for measures and districts are the catalog's and the enum's."""
    dashboard = grafana()
    assert dashboard["uid"]
    assert dashboard["schemaVersion"] >= 36
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", *SCOPES, "dashboard_url"]
    panels = list(grafana_panels(dashboard["panels"]))
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    shown: dict[str, str] = {}
    for panel in panels:
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "displayName":
                    shown[override["matcher"]["options"]] = prop["value"]
    for measure, title in measure_titles(load_catalog()).items():
        assert shown[f"第{measure}条"] == f"第{measure}条 {title}"
    for district, name in DISTRICT_NAMES_ZH.items():
        assert shown[district.value] == name


def test_cap_utilisation_is_granted_over_cap_with_links_to_the_page_and_the_runbook() -> None:
    """The cap panels read the dashboard's granted ÷ cap gauges (per enterprise-year), not the
    share of decisions a cap limited; the dashboard links to the live page and the runbook."""
    dashboard = grafana()
    panels = {p["title"]: p for p in grafana_panels(dashboard["panels"])}
    utilisation = [p for title, p in panels.items() if title.startswith("Cap utilisation")]
    assert len(utilisation) == 1
    read = {m for t in utilisation[0]["targets"] for m in promql_usage(t["expr"]).metrics}
    assert read == {
        "subsidy_dashboard_cap_utilisation_ratio_max",
        "subsidy_dashboard_cap_utilisation_ratio",
    }
    assert utilisation[0]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    bands = panels["Enterprise-years by share of their annual cap used"]
    (target,) = bands["targets"]
    usage = promql_usage(target["expr"])
    assert usage.metrics == {"subsidy_dashboard_cap_utilisation_enterprise_years"}
    assert usage.grouping == {"rule", "band"}
    used = {m for _, expr in grafana_exprs() for m in promql_usage(expr).metrics}
    assert "subsidy_ledger_cap_denials_total" in used  # the denials panel stays
    links = {link["url"] for link in dashboard["links"]}
    assert links == {"${dashboard_url}", "https://runbooks.example/subsidy/docs/runbook.md"}
    variable = {v["name"]: v for v in dashboard["templating"]["list"]}["dashboard_url"]
    assert variable["type"] == "textbox"
    assert variable["query"].startswith("http")
