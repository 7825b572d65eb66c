"""What the dashboard and alert tests read: exported metrics, PromQL, the files, promtool."""

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana" / "subsidy.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
KAFKA_EXPORTER_ALERTS = PROMETHEUS / "alerts-kafka-exporter.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
# Where a deployment publishes the repository's docs (docs/runbook.md, first paragraph): every
# runbook_url is this base, then docs/runbook.md#<the alert's name in lower case>.
RUNBOOK_BASE = "https://runbooks.example/subsidy/"

# Labels Prometheus adds to every scraped series, and series it makes itself.
TARGET_LABELS = frozenset({"job", "instance"})
# What the Prometheus Operator's ServiceMonitors add to every target on Kubernetes, where
# alerts.yml runs too (scripts/gen_prometheusrule.py): the rules may group by them, a no-op
# on a plain Prometheus, which has none.
KUBERNETES_TARGET_LABELS = frozenset({"namespace", "pod"})
SYNTHETIC = {"up": TARGET_LABELS}

# ---- what the code exports ---------------------------------------------------------------

_KINDS = frozenset({"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"})


def _literal_str(node: ast.expr | None, where: str) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise AssertionError(f"{where}: metric names and labels must be string literals")


def _labelnames(node: ast.expr | None, where: str) -> frozenset[str]:
    if node is None:
        return frozenset()
    if not isinstance(node, ast.List | ast.Tuple):
        raise AssertionError(f"{where}: labelnames must be a literal list")
    return frozenset(str(_literal_str(e, where)) for e in node.elts)


def _series(kind: str, name: str, labels: frozenset[str]) -> dict[str, frozenset[str]]:
    """The series names a prometheus_client metric exposes, with their label names (the
    client appends _total to counters, _bucket/_sum/_count to histograms, …)."""
    labels = labels | TARGET_LABELS
    if kind == "Counter":
        base = name.removesuffix("_total")
        return {f"{base}_total": labels, f"{base}_created": labels}
    if kind == "Gauge":
        return {name: labels}
    if kind == "Histogram":
        return {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels,
                f"{name}_count": labels, f"{name}_created": labels}  # fmt: skip
    if kind == "Summary":
        return {name: labels | {"quantile"}, f"{name}_sum": labels, f"{name}_count": labels,
                f"{name}_created": labels}  # fmt: skip
    if kind == "Info":
        return {f"{name}_info": labels}
    return {name: labels | {name}}  # Enum: the state is a label named like the metric


def metrics_in_source(path: Path) -> dict[str, frozenset[str]]:
    """Series of every prometheus_client metric constructed in a module (ast, not import:
    collections.Counter and friends are told apart by where the name was imported from)."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    constructors: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client"):
            for alias in node.names:
                if alias.name in _KINDS:
                    constructors[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("prometheus_client"):
                    modules.add(alias.asname or alias.name)
    found: dict[str, frozenset[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, kind = node.func, None
        if isinstance(func, ast.Name):
            kind = constructors.get(func.id)
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in _KINDS
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
        ):
            kind = func.attr
        if kind is None:
            continue
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        args = list(node.args)
        name = _literal_str(args[0] if args else kwargs.get("name"), where)
        assert name, f"{where}: a metric without a name"
        labels = _labelnames(args[2] if len(args) > 2 else kwargs.get("labelnames"), where)
        prefix = [_literal_str(kwargs.get(k), where) for k in ("namespace", "subsystem")]
        full = "_".join(p for p in [*prefix, name] if p)
        unit = _literal_str(kwargs.get("unit"), where)
        if unit and not full.endswith(f"_{unit}"):
            full = f"{full}_{unit}"
        found.update(_series(kind, full, labels))
    return found


@cache
def exported() -> dict[str, frozenset[str]]:
    """Every series name the platform's processes expose, with its label names: the metrics
    constructed in src/ and services/, the client library's default collectors, and `up`."""
    names: dict[str, frozenset[str]] = dict(SYNTHETIC)
    for base in (ROOT / "src", ROOT / "services"):
        for path in sorted(base.rglob("*.py")):
            names.update(metrics_in_source(path))
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    for family in registry.collect():
        for sample in family.samples:
            names[sample.name] = frozenset(sample.labels) | TARGET_LABELS
    return names


# ---- what PromQL uses --------------------------------------------------------------------

_FUNCTION_NAMES = """
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
deg delta deriv exp floor histogram_count histogram_fraction histogram_quantile histogram_stddev
histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace
last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi
predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp
vector year
"""
FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
     "bottomk", "topk", "quantile"}
)  # fmt: skip
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<range>\[[^\]]*\])
    |(?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
    |(?P<number>(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:ms|[smhdwy])?)
    |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<space>\s+|\#[^\n]*)
    |(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(),{}@])
    """,
    re.VERBOSE,
)


@dataclass
class Usage:
    """What one PromQL expression reads: each selector's metric name and matcher labels
    (and in `matchers`, each selector's whole matchers: label, operator, quoted value), and
    the labels it groups or matches on."""

    selectors: list[tuple[str | None, frozenset[str]]] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)
    matchers: list[frozenset[tuple[str, str, str]]] = field(default_factory=list)

    @property
    def metrics(self) -> set[str]:
        return {name for name, _ in self.selectors if name is not None}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[pos : pos + 20]!r} in {expr!r}")
        pos = match.end()
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            out.append((kind, match.group()))
    return out


def _list_in_parens(tokens: list[tuple[str, str]], start: int) -> tuple[set[str], int]:
    """Identifiers of `( a, b )` starting at tokens[start] == '('; and the index after it."""
    names, i = set(), start + 1
    while tokens[i][1] != ")":
        if tokens[i][0] in ("ident", "string"):
            names.add(tokens[i][1].strip("\"'`"))
        i += 1
    return names, i + 1


def _matchers(
    tokens: list[tuple[str, str]], start: int
) -> tuple[frozenset[tuple[str, str, str]], int]:
    """(label, operator, quoted value) of `{a="x", b=~"y"}` starting at tokens[start] == '{'."""
    found, i = set(), start + 1
    while tokens[i][1] != "}":
        kind, value = tokens[i]
        if kind == "ident" and tokens[i + 1][1] in ("=", "!=", "=~", "!~"):
            found.add((value, tokens[i + 1][1], tokens[i + 2][1]))
        i += 1
    return frozenset(found), i + 1


def promql_usage(expr: str) -> Usage:
    """Metric names, matcher labels and grouping labels of a PromQL expression; an unknown
    function is an error (a misspelt one would otherwise read as a metric name)."""
    tokens = [*_tokens(expr), ("end", "")]
    usage, i = Usage(), 0
    while tokens[i][0] != "end":
        kind, value = tokens[i]
        following = tokens[i + 1][1]
        if kind == "op" and value == "{":
            matchers, i = _matchers(tokens, i)
            usage.selectors.append((None, frozenset(m[0] for m in matchers)))
            usage.matchers.append(matchers)
            continue
        if kind != "ident":
            i += 1
            continue
        if value in GROUPING:
            if following == "(":
                names, i = _list_in_parens(tokens, i + 1)
                usage.grouping |= names
            else:
                i += 1
            continue
        if value in AGGREGATIONS or value.lower() in KEYWORDS:
            i += 1
            continue
        if following == "(":
            if value not in FUNCTIONS:
                raise ValueError(f"unknown PromQL function {value!r} in {expr!r}")
            i += 1
            continue
        named: frozenset[tuple[str, str, str]] = frozenset()
        i += 1
        if tokens[i][1] == "{":
            named, i = _matchers(tokens, i)
        usage.selectors.append((value, frozenset(m[0] for m in named)))
        usage.matchers.append(named)
    return usage


# ---- the files ---------------------------------------------------------------------------


def grafana_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from grafana_panels(panel.get("panels", []))


@cache
def grafana() -> dict[str, Any]:
    return dict(json.loads(GRAFANA.read_text("utf-8")))


def grafana_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of the dashboard."""
    return [
        (panel.get("title", ""), target["expr"])
        for panel in grafana_panels(grafana()["panels"])
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def alert_rules(path: Path = ALERTS) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def check_usage(where: str, expr: str) -> list[str]:
    """Problems with one expression: unknown metrics, labels a metric does not have."""
    known = exported()
    usage = promql_usage(expr)
    problems = [f"{where}: no code exports {name!r}" for name in usage.metrics - known.keys()]
    used_labels: set[str] = set(TARGET_LABELS | KUBERNETES_TARGET_LABELS)
    for name, labels in usage.selectors:
        if name is None or name not in known:
            continue
        used_labels |= known[name]
        for label in sorted(labels - known[name] - KUBERNETES_TARGET_LABELS):
            problems.append(f"{where}: {name} has no label {label!r}")
    for label in sorted(usage.grouping - used_labels):
        problems.append(f"{where}: groups by {label!r}, which none of its metrics has")
    return problems


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: run scripts/bootstrap.sh promtool", pytrace=False)
    return path


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [_promtool(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output
