"""Which faults strike, and when: drawn from a seed, so a failing run can be repeated."""

import random
from dataclasses import dataclass

# kill -9 of a service (the suite restarts it, as Kubernetes would), and how often.
KILLS = {"ledger-worker": 5, "eligibility": 2, "ledger-relay": 1, "notifier": 1}
# Infrastructure restarts: Kafka is killed with SIGKILL, PostgreSQL stopped in immediate mode.
RESTARTS = ("kafka", "postgres")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: `at_s` seconds after the feed started, against `target`."""

    at_s: float
    target: str

    @property
    def is_restart(self) -> bool:
        return self.target in RESTARTS


def plan_faults(seed: int, start_s: float, end_s: float) -> list[Fault]:
    """Every fault of KILLS and RESTARTS at a random moment in [start_s, end_s], in time
    order. The two restarts are kept at least a sixth of the window apart, so the second does
    not land while the first is still recovering (both would then measure less)."""
    rng = random.Random(seed)
    targets = [name for name, n in KILLS.items() for _ in range(n)]
    gap = (end_s - start_s) / 6
    while True:
        kafka, postgres = (rng.uniform(start_s, end_s) for _ in RESTARTS)
        if abs(kafka - postgres) >= gap:
            break
    faults = [Fault(round(rng.uniform(start_s, end_s), 1), t) for t in targets]
    faults += [Fault(round(kafka, 1), "kafka"), Fault(round(postgres, 1), "postgres")]
    return sorted(faults, key=lambda f: (f.at_s, f.target))
