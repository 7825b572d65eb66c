"""The run's submitters: a credential per feed and one for the reviewers, and feed files sent."""

# The credentials are bound to exactly what the sample feed sends; a feed file is sent line by line
# under the right credential.

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from subsidy.infra.auth import token_digest
from subsidy.infra.grpc_tls import ClientTransport
from subsidy.ingest.client import IngestSummary, ingest_file, report_path_for, write_report

REVIEW = "reviewDecided"
# A fact feed also retracts what it sent in error (eventRetracted, docs/contract.md §1); a
# correction is of the type it corrects, which the binding names already.
FACT_TYPES = (
    "certificationObtained", "computeInvoiceFiled", "standardPublished", "exhibitionHeld",
    "serviceReportFiled", "projectDesignated", "capacityInvestmentFiled",
    "certificationRevoked", "otherSupportReceived", "eventRetracted",
)  # fmt: skip
# What enterprises file themselves on 苏州政务服务网: the bank account payouts go to, and
# objections during a public notice (recorded by the ledger for the payouts).
PORTAL = "sz-gov-service-portal"
PORTAL_TYPES = ("payeeAccountRegistered", "objectionFiled")
# The sample's feeds (data/sample-events.jsonl, made by subsidy.demo.generator): each of the
# first three sends facts of every type under its own source, the portal its two types. Reviews
# come from the reviewer's principal, whichever fact feed's source they name.
FACT_FEEDS = ("js-provincial-cert-feed", "sz-miit-portal", "sz-sci-tech-portal")
FEEDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(FACT_FEEDS, FACT_TYPES),
    PORTAL: PORTAL_TYPES,
}
FEED_SOURCES = tuple(FEEDS)
REVIEWER = "reviewer-wang"
# A large approval needs a second reviewer (four eyes, docs/rules.md): the sample's second one.
SECOND_REVIEWER = "reviewer-li"
REVIEWERS = (REVIEWER, SECOND_REVIEWER)


@dataclass(frozen=True, slots=True)
class Principal:
    """A submitter of the run: its name, its token, what it is bound to."""

    name: str
    token: str
    event_types: tuple[str, ...]
    sources: tuple[str, ...]


def demo_principals() -> dict[str, Principal]:
    """A fresh token for each feed (bound to its own source) and for each reviewer (bound to
    reviewDecided only, under any of the fact feeds' sources, as the sample's reviews name them)."""
    feeds = {s: Principal(s, secrets.token_urlsafe(24), types, (s,)) for s, types in FEEDS.items()}
    reviewers = {
        r: Principal(r, secrets.token_urlsafe(24), (REVIEW,), FACT_FEEDS) for r in REVIEWERS
    }
    return {**feeds, **reviewers}


def credentials_json(principals: Iterable[Principal]) -> str:
    """INGEST_CREDENTIALS for these principals: digests only, the server never holds a token."""
    return json.dumps(
        {
            p.name: {
                "token_sha256": [token_digest(p.token)],
                "event_types": list(p.event_types),
                "sources": list(p.sources),
            }
            for p in principals
        }
    )


def principal_of(line: bytes, principals: dict[str, Principal], prior: str) -> str:
    """Whose line this is: for a review, the reviewer its `submittedBy` names (the first
    reviewer's if it names none of the run's), else its source's feed. A line that is not an
    event object goes with the line before: it is rejected whoever sends it."""
    try:
        event = json.loads(line)
    except ValueError:
        return prior
    if not isinstance(event, dict):
        return prior
    if REVIEW in event:
        named = event.get("submittedBy")
        who = named.get("principal") if isinstance(named, dict) else None
        return who if who in REVIEWERS and who in principals else REVIEWER
    source = event.get("source")
    return source if isinstance(source, str) and source in principals else prior


def _keys(line: bytes) -> list[str]:
    """What orders this line against others: its enterprise (whose book it changes) and its
    event id (the inbox is global)."""
    try:
        event = json.loads(line)
    except ValueError:
        return []
    if not isinstance(event, dict):
        return []
    return [f"{k}:{event[k]}" for k in ("enterpriseId", "eventId") if isinstance(event.get(k), str)]


# principal → its lines of the wave, each with its line number in the file.
Wave = dict[str, list[tuple[int, bytes]]]


def waves(lines: Iterable[bytes], principals: dict[str, Principal]) -> list[Wave]:
    """The lines grouped by principal into waves that keep the order that matters: within a
    wave no enterprise or event id is touched by two principals, so its parts may go in any
    order; the waves go one after the other. One enterprise's events thus reach Kafka in
    file order, as one file from one credential would."""
    done: list[Wave] = []
    wave: Wave = {}
    owner: dict[str, str] = {}
    prior = FEED_SOURCES[0]
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        prior = who = principal_of(line, principals, prior)
        keys = _keys(line)
        if any(owner.get(k, who) != who for k in keys):
            done.append(wave)
            wave, owner = {}, {}
        wave.setdefault(who, []).append((row, line))
        owner.update(dict.fromkeys(keys, who))
    if wave:
        done.append(wave)
    return done


def ingest_as_principals(
    path: Path,
    work: Path,
    server: str,
    principals: dict[str, Principal],
    transport: ClientTransport,
    on_progress: Callable[[int], None] | None = None,
    retries: int = 3,
) -> IngestSummary:
    """Send a JSONL feed through the ingest API (its certificate checked as `transport` says),
    each line under its principal's credential (see `waves`); the answers added up, and every
    rejection in one report beside the file, by its line in the file."""
    work.mkdir(parents=True, exist_ok=True)
    report = report_path_for(path)
    total = IngestSummary(report=report)
    part = work / f"{path.stem}.part.jsonl"
    for wave in waves(path.read_bytes().splitlines(), principals):
        for name, lines in wave.items():
            part.write_bytes(b"\n".join(line for _, line in lines) + b"\n")
            summary = ingest_file(part, server=server, token=principals[name].token,
                                  transport=transport, on_progress=on_progress,
                                  retries=retries)  # fmt: skip
            total.read += summary.read
            total.accepted += summary.accepted
            total.duplicates += summary.duplicates
            total.rejected += summary.rejected
            rows = [row for row, _ in lines]
            total.errors.extend(
                replace(e, row=rows[e.row - 1]) if 0 < e.row <= len(rows) else e
                for e in summary.errors
            )
    part.unlink(missing_ok=True)
    report_path_for(part).unlink(missing_ok=True)
    write_report(report, total.errors)
    return total


AUDITOR = "auditor-demo"


def auditors_json(token: str) -> str:
    """LEDGER_API_AUDITOR_TOKENS for the run's one auditor (by digest)."""
    return json.dumps({AUDITOR: {"token_sha256": [token_digest(token)]}})
