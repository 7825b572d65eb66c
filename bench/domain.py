"""(a) The domain alone, in one process: eligibility + ledger decisions per second."""

import contextlib
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from subsidy.contract.codec import event_from_proto, event_to_proto
from subsidy.demo.generator import generate
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import EnterpriseEvent, InvalidEvent, parse_event_json
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from subsidy.infra.gc_tuning import tune_gc

CACHE = Path(__file__).resolve().parent.parent / ".cache/bench"
# The per-stage breakdown runs on a prefix: enough for steady rates, cheap in memory.
STAGE_SAMPLE = 200_000
PROTO_SAMPLE = 50_000


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


def decide_all(lines: list[bytes], catalog: Catalog) -> tuple[int, int, int]:
    """What the two services do to each event, one event at a time: validate the JSON,
    evaluate it against the catalog, hash its content for the inbox, let the ledger decide.
    Returns (events accepted, decisions, events the ledger rejected)."""
    ledger = InMemoryLedger()
    accepted = decisions = rejected = 0
    for line in lines:
        try:
            event = parse_event_json(line)
        except InvalidEvent:
            continue
        accepted += 1
        try:
            outcome = ledger.process(evaluate(event, catalog, explain=False), event.content_hash())
        except LedgerRejection:
            rejected += 1
            continue
        decisions += len(outcome.decisions)
    return accepted, decisions, rejected


def _rate(count: int, work: Callable[[], object]) -> int:
    start = time.perf_counter()
    work()
    return round(count / (time.perf_counter() - start))


def _stages(lines: list[bytes], catalog: Catalog) -> dict[str, int]:
    """Each stage alone over the same prefix, to show where the time goes."""
    events: list[EnterpriseEvent] = []

    def parse() -> None:
        for line in lines:
            with contextlib.suppress(InvalidEvent):
                events.append(parse_event_json(line))

    parse_rate = _rate(len(lines), parse)
    n = len(events)
    evaluations = [evaluate(e, catalog, explain=False) for e in events]
    ledger = InMemoryLedger()

    def decide() -> None:
        for evaluation in evaluations:
            with contextlib.suppress(LedgerRejection):
                ledger.process(evaluation, evaluation.event.content_hash())

    def evaluate_and_decide() -> None:
        # What the two services do once an event is validated: the target's "eligibility +
        # ledger decisions", without the JSON validation that ingest did before them.
        book = InMemoryLedger()
        for e in events:
            with contextlib.suppress(LedgerRejection):
                book.process(evaluate(e, catalog, explain=False), e.content_hash())

    # What eligibility does to each Kafka record first: protobuf to a validated event.
    messages = [event_to_proto(e, submitter=True) for e in events[:PROTO_SAMPLE]]

    def decode_protobuf() -> None:
        for message in messages:
            event_from_proto(message)

    return {
        "validated_evaluate_and_decide_per_s": _rate(n, evaluate_and_decide),
        "stage_protobuf_to_event_per_s": _rate(len(messages), decode_protobuf),
        "stage_parse_per_s": parse_rate,
        "stage_evaluate_per_s": _rate(
            n, lambda: [evaluate(e, catalog, explain=False) for e in events]
        ),
        "stage_evaluate_traced_per_s": _rate(n, lambda: [evaluate(e, catalog) for e in events]),
        "stage_hash_and_ledger_per_s": _rate(n, decide),
    }


def run(count: int = 1_000_000) -> dict[str, Any]:
    """Decide `count` generated events end to end in memory; then each stage on a prefix."""
    catalog = load_catalog()
    lines = events_file(count).read_bytes().splitlines()[:count]
    tune_gc()  # as the workers do at start (subsidy.infra.gc_tuning)
    start = time.perf_counter()
    accepted, decisions, rejected = decide_all(lines, catalog)
    elapsed = time.perf_counter() - start
    figures: dict[str, Any] = {
        "events": len(lines),
        "accepted": accepted,
        "ledger_rejections": rejected,
        "decisions": decisions,
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(lines) / elapsed),
        "decisions_per_s": round(decisions / elapsed),
        "target_events_per_s": 100_000,
    }
    figures["target_met"] = figures["events_per_s"] >= figures["target_events_per_s"]
    figures |= _stages(lines[:STAGE_SAMPLE], catalog)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures
