"""The suite as the services' supervisor: kill -9 on request, restart whatever exited."""

# Like Kubernetes (restartPolicy: Always) it starts a service again whenever its process ends,
# whether the suite killed it or it exited on its own; an exit the suite did not cause is a finding
# and is reported. Restarts of a service that keeps exiting back off (1, 2, 4 … 10 s, as a kubelet
# does), and too many such exits are a crash loop, which fails the run.

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from subsidy.devstack.procs import is_alive
from subsidy.harness import processes
from subsidy.harness.processes import Running, ServiceFailed, ServiceSpec

# In the environment of every service the suite starts, so leftovers are recognised as ours.
MARK = "SUBSIDY_FAULT_SUITE"
MAX_UNPLANNED_EXITS = 8  # per service; more is a crash loop
STABLE_AFTER_S = 30.0  # a process that lived this long resets the back-off
_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Exit:
    """A service process that ended, and its successor."""

    at_s: float
    name: str
    pid: int
    code: int | None
    planned: bool  # killed by the suite
    new_pid: int
    cause: str = ""  # the last error its log shows, for an exit the suite did not cause


def last_error(log: Path) -> str:
    """The last exception line of a log ("module.SomeError: message"), shortened."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    for line in reversed(lines):
        head = line.split(":", 1)[0].strip()
        if head.endswith(("Error", "Exception")) and " " not in head:
            return line.strip()[:160]
    return ""


def instances(spec: ServiceSpec, count: int) -> list[ServiceSpec]:
    """`count` processes of one service, named <name>-1, <name>-2 … (a single one keeps its
    name): members of one consumer group, or the relay's active and standby."""
    if count == 1:
        return [spec]
    return [dataclasses.replace(spec, name=f"{spec.name}-{i}") for i in range(1, count + 1)]


def _marked(pid: int) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARK}=1".encode() in environ.split(b"\0")


class Supervisor:
    """Keeps each service's process running, by name (an instance is a service of its own
    here, instances()); `kill` is the suite's kill -9."""

    def __init__(self, logs: Path, clock: Callable[[], float], pid_file: Path) -> None:
        self._logs = logs
        self._clock = clock
        self._pid_file = pid_file
        self.services: dict[str, Running] = {}
        self.exits: list[Exit] = []
        self._planned: set[int] = set()
        self._starts: Counter[str] = Counter()
        self._unplanned: Counter[str] = Counter()
        self._streak: Counter[str] = Counter()
        self._due: dict[str, float] = {}

    @staticmethod
    def kill_leftovers(pid_file: Path) -> list[int]:
        """SIGKILL the services an aborted earlier run left (they outlive it: own sessions).
        Only processes that carry the suite's mark: a pid may have been reused since, by
        anybody's process."""
        killed = []
        with contextlib.suppress(FileNotFoundError):
            for pid in (int(p) for p in pid_file.read_text().split()):
                if is_alive(pid, "subsidy.cli") and _marked(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        return killed

    def start(self, spec: ServiceSpec) -> Running:
        """Start (again) one service; each incarnation logs to its own run<N>-<name>.log."""
        self._starts[spec.name] += 1
        marked = dataclasses.replace(spec, env={**spec.env, MARK: "1"})
        running = processes.start(marked, self._logs, prefix=f"run{self._starts[spec.name]}")
        self.services[spec.name] = running
        self._pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self._pid_file.open("a") as f:
            f.write(f"{running.process.pid}\n")
        return running

    def kill(self, name: str) -> int:
        """kill -9 the service's current process; the watch loop restarts it."""
        process = self.services[name].process
        self._planned.add(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        return process.pid

    def running(self, name: str) -> bool:
        """Whether the service's current process runs and is not scheduled for a restart."""
        return name not in self._due and self.services[name].process.poll() is None

    async def watch(self, stop: asyncio.Event) -> None:
        """Restart exited services until `stop`; raises ServiceFailed on a crash loop."""
        while not stop.is_set():
            self.restart_exited()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _POLL_S)

    def restart_exited(self) -> None:
        now = time.monotonic()
        for name, running in list(self.services.items()):
            code = running.process.poll()
            if code is None:
                continue
            if name not in self._due:
                self._due[name] = now + self._backoff(running, now)
            if now < self._due[name]:
                continue
            del self._due[name]
            pid = running.process.pid
            new = self.start(running.spec)
            planned = pid in self._planned
            cause = "" if planned else last_error(running.log)
            self.exits.append(Exit(self._clock(), name, pid, code, planned, new.process.pid, cause))
            if not planned and self._unplanned[name] > MAX_UNPLANNED_EXITS:
                raise ServiceFailed(
                    f"{name} is crash-looping: {self._unplanned[name]} exits the suite did not "
                    f"cause; see {running.log}"
                )

    def _backoff(self, running: Running, now: float) -> float:
        """Nothing after a planned kill; 1, 2, 4 … 10 s after consecutive unplanned exits."""
        name = running.spec.name
        if running.process.pid in self._planned:
            return 0.0
        self._unplanned[name] += 1
        lived = now - running.started
        self._streak[name] = 1 if lived >= STABLE_AFTER_S else self._streak[name] + 1
        return 0.0 if self._streak[name] == 1 else min(10.0, 2.0 ** (self._streak[name] - 2))

    def stop_all(self) -> list[str]:
        """SIGTERM everything, SIGKILL what does not stop; the names that had to be killed."""
        return processes.stop_all(list(self.services.values()))
