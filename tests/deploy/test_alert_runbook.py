"""Every alert can be acted on: severity, summary, description, runbook_url, runbook section."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.monitoring import (
    ALERTS,
    KAFKA_EXPORTER_ALERTS,
    ROOT,
    RUNBOOK,
    RUNBOOK_BASE,
    alert_rules,
    check_usage,
    promql_usage,
    run_promtool,
)

RULE_FILES = (ALERTS, KAFKA_EXPORTER_ALERTS)
SEVERITIES = {"page", "ticket"}
# The runbook's sections that are not an alert's.
GENERAL_SECTIONS = ["如何使用 / How to use it"]
# What each alert's section says, in this order (Chinese heading, English beside).
SUBSECTIONS = [
    "含义 / What it means",
    "影响 / Impact",
    "确认 / How to confirm",
    "缓解 / Mitigation",
    "升级 / When to escalate",
]
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def _rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, rule) for path in RULE_FILES for rule in alert_rules(path)]


def _ids() -> list[str]:
    return [rule["alert"] for _, rule in _rules()]


def _anchor_of(alert: str) -> str:
    return alert.lower()


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _runbook() -> str:
    return RUNBOOK.read_text("utf-8")


def _sections(level: int) -> list[tuple[str, str]]:
    """(heading, body) of each section at `level` (## = 2), code blocks not read as headings."""
    text = FENCE.sub(lambda m: re.sub(r"^#", " #", m.group(0), flags=re.M), _runbook())
    marker = "#" * level + " "
    parts = re.split(rf"^{marker}(.+)$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _alert_sections() -> dict[str, str]:
    return {h: body for h, body in _sections(2) if h not in GENERAL_SECTIONS}


def _bilingual(text: str) -> bool:
    """Chinese first, then ` / ` and English."""
    zh, sep, en = text.partition(" / ")
    return bool(sep) and bool(HAN.search(zh)) and bool(LATIN.search(en)) and not HAN.search(en)


@pytest.mark.parametrize(("path", "rule"), _rules(), ids=_ids())
def test_every_rule_tells_a_person_what_to_do(path: Path, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert rule["labels"]["severity"] in SEVERITIES, f"{name}: severity is page or ticket"
    notes = rule.get("annotations", {})
    assert {"summary", "description", "runbook_url"} <= notes.keys(), name
    summary = notes["summary"]
    assert "\n" not in summary, f"{name}: the summary is one line"
    # A namespace (when the Prometheus has one) leads, then Chinese, then English.
    assert _bilingual(re.sub(r"^\{\{ with \$labels\.namespace }}.*?\{\{ end }}", "", summary))
    description = notes["description"]
    assert "\n" not in description.strip(), f"{name}: the description is one paragraph"
    assert _bilingual(description), name
    assert "$value" in description, f"{name}: the description gives the value"
    for label in re.findall(r"\$labels\.(\w+)", summary + description):
        assert label in _kept_labels(rule), f"{name}: {label} is not on the alert"
    relative = RUNBOOK.relative_to(ROOT).as_posix()
    assert notes["runbook_url"] == f"{RUNBOOK_BASE}{relative}#{_anchor_of(name)}"


def _kept_labels(rule: dict[str, Any]) -> set[str]:
    """Labels the alert carries: its own, the grouping, and target labels it keeps."""
    expr = rule["expr"]
    usage = promql_usage(expr)
    kept = set(rule["labels"]) | usage.grouping | {"namespace"}
    if not re.search(r"\b(sum|max|min)\b", expr):  # a bare selector keeps every label
        kept |= {"job", "instance", "pod"}
    return kept


def test_every_rule_that_could_flap_waits() -> None:
    """A rule without `for:` fires on one evaluation: its comment must say why that is safe."""
    for path in RULE_FILES:
        chunks = re.split(r"^      - alert: ", path.read_text("utf-8"), flags=re.M)[1:]
        rules = {rule["alert"]: rule for rule in alert_rules(path)}
        assert len(chunks) == len(rules)
        for chunk in chunks:
            name = chunk.split("\n", 1)[0].strip()
            if "for" not in rules[name]:
                assert "# No `for:`" in chunk, f"{name}: no `for:` and no reason given"


def test_the_runbook_has_a_section_per_alert_and_no_other() -> None:
    """The sections' headings are the alerts' names, in the rule files' order."""
    headings = [h for h, _ in _sections(2)]
    assert [h for h in headings if h in GENERAL_SECTIONS] == GENERAL_SECTIONS
    assert [h for h in headings if h not in GENERAL_SECTIONS] == _ids()


def test_every_runbook_url_leads_to_its_section() -> None:
    anchors = {_slug(h) for level in (2, 3) for h, _ in _sections(level)}
    anchors |= set(re.findall(r'<a id="([^"]+)"', _runbook()))
    for _, rule in _rules():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE), url
        path, _, anchor = url.removeprefix(RUNBOOK_BASE).partition("#")
        assert (ROOT / path).resolve() == RUNBOOK
        assert anchor in anchors, f"{rule['alert']}: no #{anchor} in {path}"
        assert _slug(rule["alert"]) == anchor


def test_the_runbook_says_where_it_is_published() -> None:
    first = _runbook().split("\n\n")[1]
    for words in (RUNBOOK_BASE, "Alertmanager", "reReplaceAll"):
        assert words in first


@pytest.mark.parametrize(("path", "rule"), _rules(), ids=_ids())
def test_each_section_says_what_it_means_and_what_to_do(path: Path, rule: dict[str, Any]) -> None:
    body = _alert_sections()[rule["alert"]]
    title = body.strip().split("\n", 1)[0]
    assert re.fullmatch(r"\*\*(.+)\*\* · severity `(\w+)`", title), title
    assert _bilingual(title.split("**")[1]), title
    assert title.endswith(f"severity `{rule['labels']['severity']}`")
    sub = dict(re.findall(r"^### ([^\n]+)\n(.*?)(?=^### |\Z)", body, flags=re.M | re.S))
    assert list(sub) == SUBSECTIONS
    for heading, text in sub.items():
        assert text.strip(), f"{rule['alert']}: {heading} says nothing"
    kinds = [kind for kind, _ in FENCE.findall(sub["确认 / How to confirm"])]
    assert "promql" in kinds, f"{rule['alert']}: how to confirm it in Prometheus"
    assert "sh" in kinds, f"{rule['alert']}: how to confirm it with a command"


def _runbook_queries() -> list[tuple[str, str]]:
    return [
        (alert, code.strip())
        for alert, body in _alert_sections().items()
        for kind, code in FENCE.findall(body)
        if kind == "promql"
    ]


def test_the_runbook_queries_read_what_the_code_exports(tmp_path: Path) -> None:
    """Each query parses (promtool) and reads metrics and labels the code exports; Strimzi's
    kafka_* series only where the alert is the Kafka Exporter's."""
    exporter = {rule["alert"] for rule in alert_rules(KAFKA_EXPORTER_ALERTS)}
    queries = _runbook_queries()
    assert len(queries) >= len(_ids())
    problems = []
    for alert, expr in queries:
        if alert in exporter:
            assert promql_usage(expr).metrics == {"kafka_consumergroup_lag"}, alert
        else:
            problems += check_usage(f"runbook {alert}", expr)
    assert problems == []
    rules = [{"record": f"runbook:query_{n}", "expr": expr} for n, (_, expr) in enumerate(queries)]
    path = tmp_path / "runbook_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbook", "rules": rules}]}), "utf-8")
    assert f"SUCCESS: {len(rules)} rules found" in run_promtool("check", "rules", str(path))
