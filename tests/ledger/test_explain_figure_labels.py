"""`ledger explain` names every figure a ledger check can record in Chinese and in English."""

# FIGURE_LABELS: the keys are taken from the code that records them, both as written (every Check
# the source builds) and as recorded (the demo feed and an upheld appeal decided by the domain), so
# a new figure without its words fails here, not in front of a bureau.

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from subsidy.demo.generator import generate
from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.domain.ledger.records import Outcome
from subsidy.domain.words import FIGURE_LABELS
from tests.domain.ledger.test_book import Books

ROOT = Path(__file__).parents[2]
# Where a Check may be built: the domain records them, the services only store and show them.
SOURCES = (ROOT / "src" / "subsidy", ROOT / "services")
CJK = re.compile(r"[\u4e00-\u9fff]")
CAMEL = re.compile(r"[a-z][A-Z]")


def written_keys() -> dict[str, str]:
    """Every figure key the source writes, with where: each ("key", value) pair in a function
    that builds a Check (its figures are such pairs, however the function assembles them)."""
    found: dict[str, str] = {}
    for path in (p for root in SOURCES for p in root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and _builds_check(fn):
                for key in _pairs(fn):
                    found.setdefault(key, f"{path.relative_to(ROOT)}:{fn.name}")
    return found


def _builds_check(fn: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Check"
        for n in ast.walk(fn)
    )


def _pairs(fn: ast.AST) -> Iterator[str]:
    for n in ast.walk(fn):
        if isinstance(n, ast.Tuple) and len(n.elts) == 2:
            first = n.elts[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def _demo_outcomes(enterprises: int) -> Iterator[Outcome]:
    """The demo feed decided by the domain as `subsidy simulate` decides it."""
    catalog, ledger = load_catalog(), InMemoryLedger()
    for line in generate(enterprises):
        try:
            event = parse_event_json(line)
            yield ledger.process(evaluate(event, catalog, explain=False), event.content_hash())
        except (InvalidEvent, LedgerRejection):
            continue  # the feed's malformed and conflicting lines: rejected, nothing recorded


def _upheld_appeal() -> list[Outcome]:
    """A rejected review appealed and upheld (reopened): the demo feed files no appeal."""
    b = Books()
    ref = {"eventRef": "x1", "ruleId": "m06.exhibition"}
    b.feed("exhibitionHeld", {"itemId": "expo-1"}, eventId="x1", occurredOn="2025-08-01")
    b.feed("reviewDecided", {**ref, "approved": False}, eventId="x1r", occurredOn="2025-08-05",
           submittedBy={"principal": "reviewer-wang"})  # fmt: skip
    b.feed("appealFiled", {**ref, "reason": "符合要求"}, eventId="x1p", occurredOn="2025-08-10")
    b.feed("appealDecided", {**ref, "appealRef": "x1p", "upheld": True, "reason": "重新审核"},
           eventId="x1d", occurredOn="2025-08-20",
           submittedBy={"principal": "reviewer-li"})  # fmt: skip
    return b.outcomes


def recorded_keys(outcomes: Iterable[Outcome]) -> dict[str, str]:
    """Every figure key the decisions record, with the check that recorded it."""
    return {
        key: c.check
        for o in outcomes
        for d in o.decisions
        for c in d.checks
        for key, _ in c.figures
    }


def test_every_figure_the_domain_records_has_its_words_in_both_languages() -> None:
    written = written_keys()
    recorded = recorded_keys([*_demo_outcomes(300), *_upheld_appeal()])
    # The scan reads what the domain does: every key a run recorded is one it found written
    # (a key built at run time would escape it, and with it the paths no run takes).
    assert recorded.keys() <= written.keys(), sorted(recorded.keys() - written.keys())
    assert {"appealEvent", "secondReviewFrom", "grantedBefore", "program"} <= recorded.keys()
    missing = {k: where for k, where in {**recorded, **written}.items() if k not in FIGURE_LABELS}
    assert not missing, f"figures without words in FIGURE_LABELS: {missing}"
    unused = FIGURE_LABELS.keys() - written.keys() - recorded.keys()
    assert not unused, f"words for figures no check records: {sorted(unused)}"
    for key in written.keys() | recorded.keys():
        zh, en = FIGURE_LABELS[key]
        assert CJK.search(zh), (key, zh)
        # English words, not the JSON key again (`bestOtherRule`) nor Chinese.
        assert en.strip(), key
        assert not CJK.search(en), (key, en)
        assert not CAMEL.search(en), (key, en)
