"""The ledger's check of what eligibility sent: the same policy version, the same entitlements."""

# The ledger trusts nothing it can recompute. An evaluation names the policy version it was judged
# by; the ledger holds the policy too, so it judges the event again and takes the message only if it
# says the same. A message from a service on another policy (a rollout half done), or written onto
# the topic by anyone else (an uncapped or invented payout), is refused, naming why.

import dataclasses

from subsidy.domain.catalog import Catalog
from subsidy.domain.entitlements import Entitlement
from subsidy.domain.evaluator import Evaluation, evaluate


class PolicyMismatch(ValueError):
    """An evaluation that does not follow from the event under the ledger's policy."""


def _first_difference(got: Entitlement, want: Entitlement) -> str:
    for f in dataclasses.fields(Entitlement):
        if f.compare and getattr(got, f.name) != getattr(want, f.name):
            return f"{f.name} {getattr(got, f.name)!r}, the policy gives {getattr(want, f.name)!r}"
    return "differs"  # unreachable: the two compared unequal


def recheck(evaluation: Evaluation, catalog: Catalog) -> Evaluation:
    """The evaluation as the ledger's own policy gives it; PolicyMismatch if the message says
    otherwise. The received entitlements' traces are the only thing not recomputed."""
    version = catalog.at(evaluation.event.occurred_on)
    if evaluation.catalog_version != version.version:
        held = "held" if catalog.holds(evaluation.catalog_version) else "not held here"
        raise PolicyMismatch(
            f"catalog_version: judged by policy version {evaluation.catalog_version!r} ({held});"
            f" an event of {evaluation.event.occurred_on} falls under {version.version!r}"
        )
    mine = evaluate(evaluation.event, catalog, explain=False)
    if mine.entitlements != evaluation.entitlements:
        got = {e.entitlement_id: e for e in evaluation.entitlements}
        want = {e.entitlement_id: e for e in mine.entitlements}
        if got.keys() != want.keys():
            raise PolicyMismatch(
                f"entitlements: {sorted(got)} sent, the policy gives {sorted(want)}"
            )
        eid = next(k for k in want if got[k] != want[k])
        raise PolicyMismatch(f"entitlements[{eid}]: {_first_difference(got[eid], want[eid])}")
    return evaluation
