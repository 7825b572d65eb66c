"""(a) The domain alone, in one process: eligibility + ledger decisions per second."""

import contextlib
import resource
import time
from pathlib import Path
from typing import Any

from subsidy.demo.generator import generate
from subsidy.domain.catalog import load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger

CACHE = Path(__file__).resolve().parent.parent / ".cache/bench"


def events_file(count: int, seed: int = 11) -> Path:
    """A generated feed of at least `count` lines, cached between runs."""
    path = CACHE / f"events-{count}-{seed}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        written = 0
        with tmp.open("w", encoding="utf-8") as out:
            # About nine events per enterprise: ask for enough enterprises, stop at `count`.
            for line in generate(count // 4, seed):
                out.write(line + "\n")
                written += 1
                if written >= count:
                    break
        tmp.rename(path)
    return path


def run(count: int = 1_000_000) -> dict[str, Any]:
    """Parse, evaluate and decide `count` events; the rates of each stage and in all."""
    catalog = load_catalog()
    lines = events_file(count).read_bytes().splitlines()
    t0 = time.perf_counter()
    events = []
    for line in lines:
        with contextlib.suppress(InvalidEvent):
            events.append(parse_event_json(line))
    t1 = time.perf_counter()
    evaluations = [(evaluate(e, catalog, explain=False), e.content_hash()) for e in events]
    t2 = time.perf_counter()
    ledger = InMemoryLedger()
    decisions = 0
    for evaluation, digest in evaluations:
        with contextlib.suppress(LedgerRejection):
            decisions += len(ledger.process(evaluation, digest).decisions)
    t3 = time.perf_counter()
    return {
        "events": len(lines),
        "decisions": decisions,
        "parse_per_s": round(len(lines) / (t1 - t0)),
        "evaluate_per_s": round(len(events) / (t2 - t1)),
        "ledger_per_s": round(len(events) / (t3 - t2)),
        "total_per_s": round(len(lines) / (t3 - t0)),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
