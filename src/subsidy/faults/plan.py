"""Which faults strike, and when: drawn from a seed, so a failing run can be repeated."""

import random
from collections.abc import Mapping
from dataclasses import dataclass

# kill -9 of a service (the suite restarts it, as Kubernetes would), and how often.
KILLS = {"ledger-worker": 5, "eligibility": 2, "ledger-relay": 1, "notifier": 1}
# The cluster suite's: two instances of each worker (the relay active and standby), so each
# kill moves the group's partitions onto the survivor and back when the victim returns.
CLUSTER_KILLS = {
    "ledger-worker-1": 2, "ledger-worker-2": 1, "eligibility-1": 1, "eligibility-2": 1,
    "notifier-1": 1, "notifier-2": 1, "ledger-relay-1": 1,
}  # fmt: skip
# Infrastructure restarts: Kafka is killed with SIGKILL (in a cluster: the node that leads the
# most partitions, and it stays away a while), PostgreSQL stopped in immediate mode.
RESTARTS = ("kafka", "postgres")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: `at_s` seconds after the feed started, against `target`."""

    at_s: float
    target: str

    @property
    def is_restart(self) -> bool:
        return self.target in RESTARTS


def plan_faults(
    seed: int, start_s: float, end_s: float, kills: Mapping[str, int] = KILLS
) -> list[Fault]:
    """Every fault of `kills` and RESTARTS at a random moment in [start_s, end_s], in time
    order. The two restarts are kept at least a sixth of the window apart, so the second does
    not land while the first is still recovering (both would then measure less)."""
    rng = random.Random(seed)
    targets = [name for name, n in kills.items() for _ in range(n)]
    gap = (end_s - start_s) / 6
    while True:
        kafka, postgres = (rng.uniform(start_s, end_s) for _ in RESTARTS)
        if abs(kafka - postgres) >= gap:
            break
    faults = [Fault(round(rng.uniform(start_s, end_s), 1), t) for t in targets]
    faults += [Fault(round(kafka, 1), "kafka"), Fault(round(postgres, 1), "postgres")]
    return sorted(faults, key=lambda f: (f.at_s, f.target))
