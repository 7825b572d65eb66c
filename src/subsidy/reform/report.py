"""A reform report: the policies, the history, the comparison, and the baseline's check."""

# The check, from the ledger: whether the baseline replay reproduces what the platform actually
# decided.

from dataclasses import dataclass
from datetime import datetime

from subsidy.domain.beijing import in_beijing
from subsidy.domain.simulate import SimulationResult
from subsidy.reform.diff import Comparison, compare, decide_twice
from subsidy.reform.history import History
from subsidy.reform.policy import Policies

# Ids listed where the replay and the ledger disagree (the count is always complete).
SHOWN_IDS = 20


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    """The baseline replay against the ledger's own entitlements (status and granted)."""

    compared: int  # entitlements on either side
    matching: int
    differing: tuple[str, ...]  # the first SHOWN_IDS entitlement ids that differ
    catalog_versions: tuple[str, ...]  # the catalog versions the ledger's decisions name

    @property
    def reproduced(self) -> bool:
        return self.matching == self.compared


@dataclass(frozen=True, slots=True)
class ReformReport:
    """Everything the table, JSON and HTML renderings show."""

    policies: Policies
    history: History
    comparison: Comparison
    generated_at: datetime  # Beijing time
    ledger_check: LedgerCheck | None


def check_against_ledger(history: History, baseline: SimulationResult) -> LedgerCheck | None:
    """Does the baseline replay end where the ledger stands? If not, the difference between
    baseline and reform is still exact for the replayed history, but that history (or the
    policy the platform decided it under) is not quite what the ledger holds."""
    if history.ledger is None:
        return None
    recorded = history.ledger.recorded
    replayed = {s.ent.entitlement_id: s for s in baseline.ledger.states()}
    differing = sorted(
        eid
        for eid in recorded.keys() | replayed.keys()
        if eid not in recorded
        or eid not in replayed
        or (recorded[eid].status, recorded[eid].granted_fen)
        != (replayed[eid].status.value, replayed[eid].granted_fen)
    )
    compared = len(recorded.keys() | replayed.keys())
    return LedgerCheck(
        compared=compared,
        matching=compared - len(differing),
        differing=tuple(differing[:SHOWN_IDS]),
        catalog_versions=tuple(sorted({r.catalog_version for r in recorded.values()})),
    )


def build_report(policies: Policies, history: History, now: datetime) -> ReformReport:
    """Decide the history under both policies and compare."""
    baseline, reform = decide_twice(history.lines, policies.baseline, policies.reform)
    return ReformReport(
        policies=policies,
        history=history,
        comparison=compare(baseline, reform),
        generated_at=in_beijing(now),
        ledger_check=check_against_ledger(history, baseline),
    )
