"""The cluster fault suite (`make test-faults-cluster`; not part of `make test`)."""

# Two of each worker on a three-node Kafka (replication 3, min.insync.replicas 2) while the node
# leading the most partitions, workers and PostgreSQL are killed; the checks of the one-node suite,
# and how long decisions stalled at each fault. Its own ports (29192-29197, 55632) and
# .run/faults-cluster/. FAULTS_SEED=<n> repeats another run's faults.

import os

import pytest
from rich.console import Console

from subsidy.faults.suite import FaultConfig, run_faults

pytestmark = pytest.mark.faults_cluster


@pytest.mark.timeout(1800)
async def test_nothing_lost_nothing_paid_twice_on_a_cluster_under_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = FaultConfig.cluster(seed=int(os.environ.get("FAULTS_SEED", FaultConfig.seed)))
    # The report is the point of this test: shown as it happens, not only on failure.
    with capsys.disabled():
        print()
        result = await run_faults(config, Console(record=True, width=120, highlight=False))
    assert result.ok, f"{result.problems}; report: {result.report}"
