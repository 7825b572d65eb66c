"""Carrying out the fault plan at its moments, and noting where the pipeline stood at each."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from subsidy.faults.plan import Fault
from subsidy.faults.progress import decided
from subsidy.faults.stack import PrivateStack
from subsidy.faults.supervisor import Supervisor

# A killed service is killed again only once its successor runs: a kill -9 of a process that
# is still starting would test less.
_WAIT_RUNNING_S = 120.0


@dataclass(frozen=True, slots=True)
class Strike:
    """A fault as it happened."""

    fault: Fault
    at_s: float
    what: str
    decided: int | None  # events in the ledger's inbox just after (None: database away)
    fed: int
    ended_s: float = 0.0  # when the fault was over (a server answering again)

    def line(self, expected: int) -> str:
        decided = "?" if self.decided is None else f"{self.decided:,}"
        return (
            f"t+{self.at_s:6.1f}s (planned {self.fault.at_s:5.1f}s) {self.what}; "
            f"{self.fed:,} lines fed, {decided} of {expected:,} events decided"
        )


async def _kill_kafka(stack: PrivateStack, down_s: float) -> str:
    """kill -9 a Kafka node: the only one, or of a quorum the one that leads the most
    partitions (the groups' coordinators among them), away for `down_s` before its restart."""
    if len(stack.brokers) == 1:
        old, new, took = await asyncio.to_thread(stack.kill_kafka)
        return (
            f"kill -9 Kafka broker pid {old}; restarted as pid {new}, answering after {took:.1f}s"
        )
    leaders = await asyncio.to_thread(stack.leaders)
    node, led = min(leaders.items(), key=lambda item: (-item[1], item[0]))
    broker = stack.brokers[node - 1]
    old, new, took = await asyncio.to_thread(stack.kill_kafka, broker, down_s)
    return (
        f"kill -9 Kafka node {node} pid {old}, leader of {led} of {leaders.total()} partitions; "
        f"away {down_s:.0f}s, restarted as pid {new}, answering after {took:.1f}s"
    )


async def _hit(
    fault: Fault,
    stack: PrivateStack,
    supervisor: Supervisor,
    clock: Callable[[], float],
    kafka_down_s: float,
) -> tuple[float, str]:
    """The fault carried out; when it struck, and what was done."""
    at_s = clock()
    if fault.target == "kafka":
        return at_s, await _kill_kafka(stack, kafka_down_s)
    if fault.target == "postgres":
        old, new, took, failures = await asyncio.to_thread(stack.crash_postgres)
        repeated = f" (pg_ctl repeated after: {'; '.join(failures)})" if failures else ""
        return at_s, (
            f"PostgreSQL stopped in immediate mode (a crash) pid {old}; restarted as pid {new}, "
            f"answering after {took:.1f}s{repeated}"
        )
    deadline = time.monotonic() + _WAIT_RUNNING_S
    while not supervisor.running(fault.target):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{fault.target} not running again {_WAIT_RUNNING_S:.0f}s on")
        await asyncio.sleep(0.1)
    return clock(), f"kill -9 {fault.target} pid {supervisor.kill(fault.target)}"


async def strike_all(
    faults: list[Fault],
    *,
    stack: PrivateStack,
    supervisor: Supervisor,
    clock: Callable[[], float],
    database_url: str,
    fed: Callable[[], int],
    on_strike: Callable[[Strike], None],
    kafka_down_s: float = 0.0,
    spacing_s: float = 0.0,
) -> list[Strike]:
    """Each fault at its moment (later if the one before still recovers, or ended less than
    `spacing_s` before: each fault's stall then shows apart), one after another."""
    done: list[Strike] = []
    for fault in faults:
        due = max(fault.at_s, done[-1].ended_s + spacing_s if done else 0.0)
        await asyncio.sleep(max(0.0, due - clock()))
        at_s, what = await _hit(fault, stack, supervisor, clock, kafka_down_s)
        ended_s = clock()
        count = await decided(database_url)
        strike = Strike(fault, at_s, what, count, fed(), ended_s)
        on_strike(strike)
        done.append(strike)
    return done
