"""Checks `ledger verify` runs beside the journal's: other components' chains and accounts."""

# Such as the payouts' transfers; registered by the composition root (subsidy.cli.mounts).

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import asyncpg

Vouched = Mapping[str, Mapping[int, str]]


@dataclass(frozen=True, slots=True)
class ExtraCheck:
    """The anchored chain a check verifies, and the check: given that chain's signed hashes by
    seq (None when verify has no anchors), what it found wrong."""

    chain: str
    run: Callable[[asyncpg.Connection, Mapping[int, str] | None], Awaitable[list[str]]]


EXTRA_CHECKS: list[ExtraCheck] = []


def journal_only(vouched: Vouched | None) -> Vouched | None:
    """The anchors of the journal's chains alone (the others are their checks' business)."""
    if vouched is None:
        return None
    others = {x.chain for x in EXTRA_CHECKS}
    return {chain: hashes for chain, hashes in vouched.items() if chain not in others}


async def run_all(conn: asyncpg.Connection, vouched: Vouched | None) -> list[str]:
    """Every registered check, each with its chain's anchors; what they found wrong."""
    found: list[str] = []
    for extra in EXTRA_CHECKS:
        found += await extra.run(conn, None if vouched is None else vouched.get(extra.chain, {}))
    return found
