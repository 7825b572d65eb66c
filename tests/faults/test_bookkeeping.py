"""The fault suites' own logic."""

# Their seeded plans, their exactly-once count, their reading of logs, the cluster's nodes and
# instances, the stall measure.

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from subsidy.devstack.kafka_broker import BrokerSecurity
from subsidy.faults.deliveries import compare_ids
from subsidy.faults.plan import CLUSTER_KILLS, KILLS, RESTARTS, plan_faults
from subsidy.faults.stack import CLUSTER, PrivateStack, fault_layout
from subsidy.faults.stalls import widest_gap
from subsidy.faults.suite import SCALED
from subsidy.faults.supervisor import MARK, Supervisor, instances, last_error
from subsidy.harness.processes import ServiceSpec


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


def test_the_cluster_plan_kills_every_instance_and_keeps_to_the_seed() -> None:
    plan = plan_faults(7, 10.0, 100.0, CLUSTER_KILLS)
    assert plan == plan_faults(7, 10.0, 100.0, CLUSTER_KILLS)
    assert Counter(f.target for f in plan) == Counter(
        {**CLUSTER_KILLS, **dict.fromkeys(RESTARTS, 1)}
    )
    # Every scaled service loses an instance at least once: each kill is a rebalance.
    assert {t.rsplit("-", 1)[0] for t in CLUSTER_KILLS} == set(SCALED)
    # The one-node suite's plan is what it was before the cluster's was added.
    assert plan_faults(7, 10.0, 100.0) == plan_faults(7, 10.0, 100.0, KILLS)


def test_instances_are_named_apart_and_one_keeps_its_name() -> None:
    spec = ServiceSpec("notifier", ("notify", "worker"), {"A": "1"})
    assert instances(spec, 1) == [spec]
    two = instances(spec, 2)
    assert [s.name for s in two] == ["notifier-1", "notifier-2"]
    assert all(s.args == spec.args and s.env == spec.env for s in two)


def test_the_cluster_stack_is_three_replicating_nodes_of_its_own(tmp_path: Path) -> None:
    stack = PrivateStack(fault_layout(tmp_path, CLUSTER.name), CLUSTER)
    single = PrivateStack(fault_layout(tmp_path))
    mine = tmp_path / ".run" / "faults-cluster"
    assert stack.replicas == len(stack.brokers) == 3
    ports = [p for b in stack.brokers for p in (b.port, b.controller_port)]
    ports += [stack.postgres.port]
    theirs = {single.broker.port, single.broker.controller_port, single.postgres.port}
    assert len(set(ports)) == len(ports)
    assert not set(ports) & theirs
    assert stack.kafka_bootstrap.count(",") == 2
    security = BrokerSecurity(Path("keystore.pem"), Path("ca.pem"), "admin-password")
    voters = ",".join(f"{b.node_id}@127.0.0.1:{b.controller_port}" for b in stack.brokers)
    homes = set()
    for broker in stack.brokers:
        settings = dict(line.split("=", 1) for line in broker.rendered(security).splitlines()[1:])
        assert settings["node.id"] == str(broker.node_id)
        assert settings["controller.quorum.voters"] == voters
        assert settings["default.replication.factor"] == "3"
        assert settings["min.insync.replicas"] == "2"
        assert settings["offsets.topic.replication.factor"] == "3"
        assert settings["log.dirs"] == str(broker.data_dir)
        assert "-Xmx256m" in broker._java(Path("java"), Path("libs"), "Main")
        for path in (broker.data_dir, broker.pid_file, broker.log, broker.console):
            assert path.is_relative_to(mine), path
        homes.add(broker.home)
    assert len(homes) == 3  # no two nodes share data, pid file or logs
    assert len({b.cluster_id_file for b in stack.brokers}) == 1  # one cluster id for all


def test_a_stall_is_the_widest_gap_counted_from_the_strike() -> None:
    assert widest_gap(10.0, []) is None
    assert widest_gap(10.0, [10.5, 11.0, 19.0, 19.5]) == (8.0, 11.0)
    assert widest_gap(10.0, [16.0, 16.5]) == (6.0, 10.0)  # from the strike to the first
