"""The fault-tolerance suite."""

# Events through every service while they are killed and Kafka and PostgreSQL restart; 15,000 in
# `make test`, 50,000 in `make test-faults` (FAULTS_FULL=1, the release gate). It runs on a Kafka
# and PostgreSQL of its own (ports 29092/29093 and 55532, .run/faults/), never on the developer's
# stack. FAULTS_SEED=<n> repeats another run's faults.

import os

import pytest
from rich.console import Console

from subsidy.faults.suite import FaultConfig, run_faults

pytestmark = pytest.mark.faults


@pytest.mark.timeout(1500)
async def test_nothing_lost_nothing_paid_twice_under_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = int(os.environ.get("FAULTS_SEED", FaultConfig.seed))
    full = os.environ.get("FAULTS_FULL", "") not in ("", "0")
    config = FaultConfig(seed=seed) if full else FaultConfig.quick(seed)
    # The report is the point of this test: shown as it happens, not only on failure.
    with capsys.disabled():
        print()
        result = await run_faults(config, Console(record=True, width=120, highlight=False))
    assert result.ok, f"{result.problems}; report: {result.report}"
