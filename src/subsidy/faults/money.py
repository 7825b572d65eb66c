"""The fault run's money: `subsidy payouts batch` and `confirm` killed at random, then finished."""

# Killed with SIGKILL at random moments, then run to the end; no order may be in two batches, no
# result applied twice, the files must match what was recorded, and the reconciliation and the
# accounts must be clean.

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from subsidy.devstack.db_logins import login_url
from subsidy.domain.catalog import Catalog
from subsidy.domain.money import FEN_PER_YUAN
from subsidy.payouts import intake, returns
from subsidy.payouts.bank_simulator import simulate_bank
from subsidy.payouts.verify import verify_accounts

Say = Callable[[str], None]
# Kills per command, and the longest a run is let go before its kill: most kills land inside
# the command's one transaction or between its commit and its files.
KILLS = 3
LONGEST_S = 4.0
RETURN_RATE = Decimal("0.05")


def _mark(ok: bool) -> str:
    return "ok  " if ok else "FAIL"


def _env(url: str, passwords: Path) -> dict[str, str]:
    """The payouts' own login and nothing of ours (no owner URL, no Kafka login)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "KAFKA_"))}
    return {**keep, "DATABASE_URL": login_url(url, "payouts", passwords),
            "SUBSIDY_OPERATOR": "faults"}  # fmt: skip


async def _killed_then_done(
    env: dict[str, str], args: list[str], rng: random.Random, crash_first: bool = False
) -> int:
    """With `crash_first`, one run that kills itself right after its commit (before its files
    or its summary); then KILLS runs SIGKILLed after a random while (if still running); then
    one to its end. How many kills struck a running command."""
    struck = 0
    command = [sys.executable, "-m", "subsidy.cli", *args]
    if crash_first:
        crashed = await asyncio.to_thread(
            subprocess.run, command, env={**env, "PAYOUTS_CRASH_AFTER_COMMIT": "true"},
            capture_output=True, timeout=600,
        )  # fmt: skip
        struck += crashed.returncode == -signal.SIGKILL
    for _ in range(KILLS):
        proc = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await asyncio.sleep(rng.uniform(0.5, LONGEST_S))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            struck += 1
        await proc.wait()
    await _plain(env, args)
    return struck


async def _plain(env: dict[str, str], args: list[str]) -> None:
    """The command run to its end; it must succeed."""
    command = [sys.executable, "-m", "subsidy.cli", *args]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True,
                                   text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[-500:]}")


async def _budget(conn: asyncpg.Connection, catalog: Catalog, path: Path) -> None:
    """A budget file with room for every grant (budget waits are not what this run tests)."""
    granted = await returns.ledger_granted(conn, catalog)
    rows = [f"{c},{y},{(fen // FEN_PER_YUAN + 1) * 2}" for (c, y), fen in sorted(granted.items())]
    text = "资金渠道,年度,预算金额(元)\n" + "\n".join(rows) + "\n"
    await asyncio.to_thread(path.write_text, text, encoding="utf-8")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


async def money_under_kills(
    url: str, passwords: Path, catalog: Catalog, work: Path, seed: int, say: Say
) -> list[str]:
    """Budget, then the day's batches and the first batch's confirmation each crashed after
    commit, killed KILLS times and finished (the other batches confirmed plainly); the
    problems found."""
    rng, env = random.Random(seed), _env(url, passwords)
    owner = await asyncpg.connect(url)
    try:
        day = ((await intake.last_event_day(owner)) or date.today()) + timedelta(days=1)
        budget, out = work / "budget.csv", work / "batches"
        await _budget(owner, catalog, budget)
        await _killed_then_done(env, ["budget", "load", str(budget), "--date", str(day)], rng)
        batch = ["payouts", "batch", "--out", str(out), "--date", str(day)]
        struck = await _killed_then_done(env, batch, rng, crash_first=True)
        first = _digests(out)
        await _killed_then_done(env, batch, rng)
        same = first == _digests(out)
        say(f"{_mark(same)} payouts batch crashed after commit and killed: {struck} struck, then"
            f" finished; {len(first) // 3} batches, the same bytes when made again")  # fmt: skip
        for n, manifest in enumerate(sorted(out.glob("*.manifest.json"))):
            back = simulate_bank(manifest, RETURN_RATE, seed + n)
            confirm = ["payouts", "confirm", str(back)]
            if n == 0:
                struck = await _killed_then_done(env, confirm, rng, crash_first=True)
                say(f"     payouts confirm {back.name} crashed after commit and killed: "
                    f"{struck} struck, then finished")  # fmt: skip
            else:
                await _plain(env, confirm)
        return [
            *await _money_checks(owner, catalog, say),
            *([] if same else ["a batch's files changed when made again"]),
        ]
    finally:
        await owner.close()


# (what it counts, the query, what it must be)
_COUNTS = (
    ("orders in two live batches",
     "SELECT count(*) FROM (SELECT order_id FROM payout_batch_lines WHERE result IS DISTINCT"
     " FROM 'RETURNED' GROUP BY order_id HAVING count(*) > 1) twice"),
    ("batch lines without the bank's result",
     "SELECT count(*) FROM payout_batch_lines WHERE result IS NULL"),
    ("results without exactly one PAY or RETURN transfer",
     "SELECT count(*) FROM payout_batch_lines l WHERE (SELECT count(*) FROM transfers t"
     " WHERE t.ref = l.order_id AND t.kind IN ('PAY', 'RETURN')"
     " AND t.transfer_id LIKE '%:' || l.batch_id) <> 1"),
    ("batches not applied exactly once from a return file",
     "SELECT count(*) FROM payout_batches b WHERE (SELECT count(*) FROM payout_return_files f"
     " WHERE f.batch_id = b.batch_id) <> 1"),
    ("batches without their files' digest", "SELECT count(*) FROM payout_batches"
     " WHERE manifest_sha256 IS NULL"),
)  # fmt: skip


async def _money_checks(conn: asyncpg.Connection, catalog: Catalog, say: Say) -> list[str]:
    """Each count must be zero; the reconciliation and the accounts clean."""
    problems = []
    for what, sql in _COUNTS:
        n = await conn.fetchval(sql)
        say(f"{_mark(n == 0)} {what}: {n}")
        if n:
            problems.append(f"{n} {what}")
    rec = await returns.reconciliation(conn, catalog, set_off=True)
    say(f"{_mark(not rec.unexplained)} reconciliation: {len(rec.rows)} channel-years, "
        f"{len(rec.unexplained)} unexplained differences")  # fmt: skip
    wrong = await verify_accounts(conn, catalog)
    say(f"{_mark(not wrong)} accounts verify (transfer chain, balances, debits = credits)"
        + "".join(f"\n       {w}" for w in wrong[:5]))  # fmt: skip
    if rec.unexplained:
        problems.append(f"{len(rec.unexplained)} unexplained differences")
    return problems + wrong
