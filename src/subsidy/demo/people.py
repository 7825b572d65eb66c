"""The main job's people: credentials, sign-ins through the portal, what they see checked."""

# Credentials issued once the ledger has decided, an enterprise and a bureau's approver signed in
# through the portal, and what they would see checked against the ledger; with KEEP=1, where to sign
# in and with what.

from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from subsidy.domain.money import format_fen
from subsidy.harness.people import BUREAU, Person, issue_people
from subsidy.harness.platform import Run
from subsidy.identity.principal import Role

QUEUE_NAMES = {"REVIEW": "待审核", "APPEALS": "复核申请", "REFERRED": "待转办",
               "OBJECTIONS": "公示异议", "RETURNED_PAYMENTS": "银行退回"}  # fmt: skip


async def _call(
    http: aiohttp.ClientSession, base: str, path: str, body: dict[str, Any], token: str = ""
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with http.post(f"{base}/subsidy.api.v1.{path}", json=body, headers=headers) as r:
        answer: dict[str, Any] = await r.json(content_type=None)
        if r.status != 200:
            raise RuntimeError(f"portal {path}: HTTP {r.status} {answer}")
        return answer


async def _signed_in(http: aiohttp.ClientSession, base: str, person: Person) -> str:
    session = await _call(
        http, base, "IdentityService/CreateSession", {"credential": person.secret}
    )
    return str(session["token"])


async def _ledger_says(url: str, enterprise: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(granted_fen), 0) AS granted"
            " FROM entitlements WHERE enterprise_id = $1", enterprise)  # fmt: skip
    finally:
        await conn.close()
    return int(row["n"]), int(row["granted"])


def _person(run: Run, role: Role) -> Person:
    return next(p for p in run.people if p.role is role)


async def through_the_portal(url: str, run: Run, console: Console) -> bool:
    """People issued, an enterprise's statement and the bureau's queues read through the
    portal; True when the statement is the ledger's."""
    run.people = await issue_people(url)
    base = f"http://127.0.0.1:{run.portal_port}"
    enterprise, approver = _person(run, Role.ENTERPRISE), _person(run, Role.APPROVER)
    async with aiohttp.ClientSession() as http:
        token = await _signed_in(http, base, enterprise)
        statement = await _call(http, base, "LedgerService/GetStatement",
                                {"enterpriseId": enterprise.binding}, token)  # fmt: skip
        token = await _signed_in(http, base, approver)
        counts = await _call(http, base, "WorkbenchService/GetQueueCounts",
                             {"bureau": BUREAU}, token)  # fmt: skip
    shown = (len(statement.get("entitlements", [])), int(statement.get("grantedFen", 0)))
    ledger = await _ledger_says(url, enterprise.binding)
    queues = ", ".join(
        f"{QUEUE_NAMES.get(c['queue'], c['queue'])} {c.get('total', 0)}"
        + (f" (超期 {c['overdue']})" if int(c.get("overdue", 0)) else "")
        for c in counts.get("counts", [])
    )
    verdict = "as the ledger holds" if shown == ledger else "NOT what the ledger holds"
    console.print(
        f"portal: {enterprise.name} ({enterprise.binding}) signed in: {shown[0]} entitlements, "
        f"{format_fen(shown[1])} granted, {verdict}; {approver.name}'s workbench ({BUREAU}): "
        f"{queues}"
    )
    return shown == ledger


def print_people(run: Run, console: Console) -> None:
    """Where to sign in, and each person's credential (KEEP=1)."""
    base = f"http://127.0.0.1:{run.portal_port}"
    console.print(f"portal (pages + HTTP/JSON API)  {base}/   API: {base}/openapi.json")
    console.print(f"  enterprise page {base}/enterprise   bureau workbench {base}/workbench")
    console.print("  sign in at the portal with one of these credentials (valid 7 days):")
    for p in run.people:
        console.print(f"  {p.name:<16} {p.role.value:<10} {p.binding or '-':<20} {p.secret}")
