"""The fault suite's own logic: its seeded plan, its exactly-once count, its reading of logs."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from subsidy.faults.deliveries import compare_ids
from subsidy.faults.plan import KILLS, RESTARTS, plan_faults
from subsidy.faults.supervisor import MARK, Supervisor, last_error


def test_the_plan_is_the_seeds_and_has_every_fault_in_the_window() -> None:
    plan = plan_faults(7, 10.0, 100.0)
    assert plan == plan_faults(7, 10.0, 100.0)
    assert plan != plan_faults(8, 10.0, 100.0)
    assert Counter(f.target for f in plan) == Counter({**KILLS, **dict.fromkeys(RESTARTS, 1)})
    assert all(10.0 <= f.at_s <= 100.0 for f in plan)
    assert [f.at_s for f in plan] == sorted(f.at_s for f in plan)
    kafka, postgres = (next(f.at_s for f in plan if f.target == t) for t in RESTARTS)
    assert abs(kafka - postgres) >= 15.0 - 0.1  # a sixth of the window, less the rounding


def test_a_repeat_with_the_same_id_counts_once_and_a_gap_is_missing() -> None:
    planned = Counter({"d1": 1, "d2": 1, "d3": 1})
    arrivals = compare_ids("webhook", planned, Counter({"d1": 1, "d2": 3, "x": 1}))
    assert (arrivals.planned, arrivals.distinct, arrivals.repeats) == (3, 2, 2)
    assert arrivals.missing == ["d3"]
    assert arrivals.unexpected == ["x"]
    assert not arrivals.ok
    assert compare_ids("email", planned, planned + Counter({"d1": 1})).ok


def test_the_cause_of_an_exit_is_the_last_exception_line(tmp_path: Path) -> None:
    log = tmp_path / "run1-ledger-relay.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "asyncpg.exceptions.CannotConnectNowError: the database system is starting up\n"
        "ERROR asyncio Unclosed AIOKafkaProducer\n"
    )
    assert last_error(log) == (
        "asyncpg.exceptions.CannotConnectNowError: the database system is starting up"
    )
    assert last_error(tmp_path / "absent.log") == ""


def test_only_the_suites_own_leftovers_are_killed(tmp_path: Path) -> None:
    """A pid in the file may belong to somebody else's service by now: unmarked, it lives."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "subsidy.cli"]
    ours = subprocess.Popen(sleeper, env={**os.environ, MARK: "1"})
    theirs = subprocess.Popen(sleeper)
    try:
        pid_file = tmp_path / "faults-services.pids"
        pid_file.write_text(f"{ours.pid}\n{theirs.pid}\n")
        assert Supervisor.kill_leftovers(pid_file) == [ours.pid]
        assert ours.wait(10) < 0
        assert theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
