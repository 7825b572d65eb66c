"""What the benchmark reads of its processes from /proc: CPU time by process tree, peak memory."""

import contextlib
import os
from pathlib import Path

from subsidy.devstack.kafka_broker import Broker
from subsidy.devstack.paths import layout
from subsidy.devstack.postgres_server import PostgresServer


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on: utime, stime, cutime, cstime at 11-14."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _tree_ticks(pid: int) -> int:
    """CPU ticks of a process, its reaped children and its live ones (PostgreSQL's backends
    are children of the postmaster)."""
    fields = _stat(pid)
    ticks = sum(int(x) for x in fields[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                child = _stat(entry.name)
                if child[1] == str(pid):
                    ticks += int(child[11]) + int(child[12])
    return ticks


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) used so far by each named process tree, and by the whole
    machine (all cores, busy time only) under "machine"."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {name: _tree_ticks(pid) / tick for name, pid in pids.items()}
    # /proc/stat "cpu": user nice system idle iowait irq softirq steal …
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    used["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return used


def stack_pids() -> dict[str, int]:
    """The local Kafka's and PostgreSQL's pids, when the devstack runs them."""
    found = {"kafka": Broker(layout()).pid(), "postgres": PostgresServer(layout()).pid()}
    return {name: pid for name, pid in found.items() if pid is not None}


def peak_rss_mib(pid: int | str = "self") -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
