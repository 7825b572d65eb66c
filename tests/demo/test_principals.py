"""The main job's submitters."""

# Their bindings admit what the sample feed sends and no other type or source, and the sample goes
# out in file order under each line's own credential.

import json
from pathlib import Path

from subsidy.harness.principals import REVIEWER, REVIEWERS, SECOND_REVIEWER, demo_principals, waves

SAMPLE = Path(__file__).resolve().parents[2] / "data/sample-events.jsonl"
# What every event carries besides its payload (a correction its revision and reason).
ENVELOPE = {
    "eventId", "source", "enterpriseId", "enterpriseName", "district", "occurredOn", "submittedBy",
    "revision", "correctionReason",
}  # fmt: skip


def _sent() -> set[tuple[str, str]]:
    """(payload type, source) of every event-shaped line of the sample."""
    pairs: set[tuple[str, str]] = set()
    for line in SAMPLE.read_bytes().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            pairs |= {(key, str(event.get("source"))) for key in event.keys() - ENVELOPE}
    return pairs


def test_the_bindings_admit_what_the_sample_sends_and_nothing_else() -> None:
    principals = demo_principals()
    admitted = {(t, s) for p in principals.values() for t in p.event_types for s in p.sources}
    sent = _sent()
    assert sent <= admitted
    # No type and no source that the sample never sends.
    assert {t for t, _ in admitted} == {t for t, _ in sent}
    assert {s for _, s in admitted} == {s for _, s in sent}
    assert all(principals[r].event_types == ("reviewDecided",) for r in REVIEWERS)
    assert all(
        "reviewDecided" not in p.event_types for n, p in principals.items() if n not in REVIEWERS
    )
    assert len({p.token for p in principals.values()}) == len(principals)


def test_every_line_goes_once_under_its_principal_and_each_enterprise_in_file_order() -> None:
    principals = demo_principals()
    lines = SAMPLE.read_bytes().splitlines()
    sent = [(row, who) for wave in waves(lines, principals) for who, part in wave.items()
            for row, _ in part]  # fmt: skip
    assert sorted(row for row, _ in sent) == [i for i, ln in enumerate(lines, 1) if ln.strip()]
    order: dict[str, list[int]] = {}
    reviewers: dict[str, int] = {}
    for row, who in sent:
        try:
            event = json.loads(lines[row - 1])
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        expected = event.get("source")
        if "reviewDecided" in event:
            # Its reviewer: the first, or the second for the second approval of a large one.
            expected = event.get("submittedBy", {}).get("principal", REVIEWER)
            reviewers[expected] = reviewers.get(expected, 0) + 1
        assert who == expected or event.keys() <= ENVELOPE, (row, who)
        order.setdefault(str(event.get("enterpriseId")), []).append(row)
    assert all(rows == sorted(rows) for rows in order.values())
    assert reviewers[REVIEWER] > reviewers[SECOND_REVIEWER] > 0
