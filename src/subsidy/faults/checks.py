"""What the fault run checks at the end; each check prints its finding, failures are returned."""

from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg

from subsidy.faults.deliveries import check_arrivals, delivery_states, unheard_decisions
from subsidy.faults.strikes import Strike
from subsidy.faults.supervisor import Exit
from subsidy.harness.comparison import compare
from subsidy.harness.inboxes import Inboxes
from subsidy.ledger.chain import verify_chains
from subsidy.ledger.export import export_contract
from subsidy.notifier.settings import NotifierSettings

Say = Callable[[str], None]


def _mark(ok: bool) -> str:
    return "ok  " if ok else "FAIL"


async def _ledger(conn: asyncpg.Connection, expected: dict[str, Any], say: Say) -> list[str]:
    problems = []
    differences = compare(await export_contract(conn), expected)
    say(f"{_mark(not differences)} export == subsidy simulate on the same events "
        f"({len(expected['entitlements']):,} entitlements, "
        f"{len(expected['rejectedEvents']):,} rejected events)")  # fmt: skip
    for line in differences[:20]:
        say(f"       {line}")
    if differences:
        problems.append(f"export differs from simulate in {len(differences)} ways")
    chain = await verify_chains(conn)
    broken = "" if chain.ok else f": broken at {chain.first_broken_entry}: {chain.detail}"
    say(f"{_mark(chain.ok)} ledger chain verified ({chain.entries_checked:,} entries){broken}")
    if not chain.ok:
        problems.append("the ledger chain does not verify")
    return problems


async def _notifications(conn: asyncpg.Connection, inboxes: Inboxes, say: Say) -> list[str]:
    problems = []
    unheard = await unheard_decisions(conn)
    say(f"{_mark(unheard == 0)} every published decision reached the notifier "
        f"({unheard} did not)")  # fmt: skip
    if unheard:
        problems.append(f"{unheard} decisions never reached the notifier")
    states = await delivery_states(conn)
    settled = set(states) <= {"sent"}
    say(f"{_mark(settled)} deliveries by state: {states} (none dead, none pending)")
    if not settled:
        problems.append(f"deliveries not all sent: {states}")
    sender = str(NotifierSettings.model_fields["smtp_sender"].default)
    for arrivals in await check_arrivals(conn, inboxes, sender):
        say(f"{_mark(arrivals.ok)} {arrivals.channel}: {arrivals.planned:,} planned, "
            f"{arrivals.distinct:,} arrived, {arrivals.repeats} repeats (same id: dropped by "
            f"the receiver), {len(arrivals.missing)} missing, {len(arrivals.unexpected)} "
            "unexpected")  # fmt: skip
        if not arrivals.ok:
            shown = (arrivals.missing + arrivals.unexpected)[:5]
            problems.append(f"{arrivals.channel}s not exactly once, e.g. {shown}")
    say(f"{_mark(inboxes.bad_signatures == 0)} webhook signatures: "
        f"{inboxes.bad_signatures} bad")  # fmt: skip
    if inboxes.bad_signatures:
        problems.append(f"{inboxes.bad_signatures} webhooks with a bad signature")
    return problems


def _faults(strikes: list[Strike], exits: list[Exit], expected: int, say: Say) -> list[str]:
    problems = []
    late = [s for s in strikes if s.decided is not None and s.decided >= expected]
    say(f"{_mark(not late)} all {len(strikes)} faults struck with events in flight")
    if late:
        problems.append(f"{len(late)} faults struck after every event was decided")
    planned = Counter(e.name for e in exits if e.planned)
    say("     restarted after kill -9: "
        + ", ".join(f"{n}× {name}" for name, n in sorted(planned.items())))  # fmt: skip
    unplanned = [e for e in exits if not e.planned]
    say(f"     services that exited on their own (restarted, as Kubernetes would): "
        f"{len(unplanned)}")  # fmt: skip
    for e in unplanned:
        say(f"       t+{e.at_s:6.1f}s {e.name} pid {e.pid} exited with {e.code}, "
            f"restarted as pid {e.new_pid}: {e.cause or 'no error in its log'}")  # fmt: skip
    return problems


async def final_checks(
    conn: asyncpg.Connection,
    expected_export: dict[str, Any],
    inboxes: Inboxes,
    exits: list[Exit],
    strikes: list[Strike],
    expected_events: int,
    say: Say,
) -> list[str]:
    """Every check; the problems found (empty: the run passed)."""
    say("checks:")
    problems = _faults(strikes, exits, expected_events, say)
    problems += await _ledger(conn, expected_export, say)
    problems += await _notifications(conn, inboxes, say)
    return problems
