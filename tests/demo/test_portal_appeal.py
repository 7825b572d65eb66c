"""An appeal end to end through the pages, with every service a real process."""

# The main job's platform: a reviewer rejects an exhibition's award in the workbench, the enterprise
# appeals on its page, an approver upholds the appeal in the workbench, the ledger reopens the
# review, a second reviewer approves it, and the enterprise's page shows the money; the notifier
# tells the enterprise of each decision and the bureaus of the appeal.

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from rich.console import Console

from subsidy.demo.generator import generate
from subsidy.demo.job import run_demo
from subsidy.domain.catalog import load_catalog
from subsidy.harness.databases import drop_database
from subsidy.harness.platform import Run
from subsidy.harness.processes import free_port
from subsidy.identity import store
from subsidy.identity.principal import Role
from tests.portal.pages import fill, shots, sign_in, submit
from tests.support.chromium import Page, headless_chromium
from tests.support.layout import WIDTHS

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ENTERPRISE = "91320594MA1X7K2Q8F"
EXHIBITION = f"e2e-expo-{uuid.uuid4().hex[:8]}"
ENTITLEMENT = f"{EXHIBITION}/m06.exhibition"
APPROVED_FEN = 30_000_000  # ¥300,000: below the four-eyes threshold, one approval pays
BUREAU = "市工信局"  # one of m06.exhibition's responsible units
PEOPLE = {"e2e-ent": (Role.ENTERPRISE, ENTERPRISE), "e2e-rev-1": (Role.REVIEWER, BUREAU),
          "e2e-rev-2": (Role.REVIEWER, BUREAU), "e2e-appr": (Role.APPROVER, BUREAU)}  # fmt: skip


def _feed(path: Path) -> Path:
    """The exhibition first (so its enterprise subscribes), then a small generated feed."""
    exhibition = {
        "eventId": EXHIBITION, "source": "sz-miit-portal", "enterpriseId": ENTERPRISE,
        "enterpriseName": "苏州示例机器人有限公司", "district": "SIP", "occurredOn": "2026-03-02",
        "exhibitionHeld": {"itemId": "expo-2026"},
    }  # fmt: skip
    lines = [json.dumps(exhibition, ensure_ascii=False), *generate(12, seed=19)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _until(url: str, sql: str, check: Callable[[Any], bool], what: str) -> Any:
    """Poll the run's database until `check(value)` holds (two minutes at most)."""
    deadline = time.monotonic() + 120
    while True:
        conn = await asyncpg.connect(url)
        try:
            value = await conn.fetchval(sql)
        finally:
            await conn.close()
        if check(value):
            return value
        assert time.monotonic() < deadline, f"still waiting for {what}: {value!r}"
        await asyncio.sleep(0.5)


def _status(url: str, status: str, revision: int) -> Awaitable[Any]:
    sql = (
        f"SELECT status || '#' || revision FROM entitlements WHERE entitlement_id = '{ENTITLEMENT}'"
    )
    return _until(url, sql, lambda v: v == f"{status}#{revision}", f"{status} #{revision}")


async def _issue(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        secrets = {}
        for name, (role, binding) in PEOPLE.items():
            issued = await store.issue(
                conn, name, role, actor="e2e-test",
                enterprise_id=binding if role is Role.ENTERPRISE else None,
                bureau=None if role is Role.ENTERPRISE else binding,
            )  # fmt: skip
            secrets[name] = issued.secret
        return secrets
    finally:
        await conn.close()


_ROW = (
    "[...document.querySelectorAll('#cases tr[data-case]')]"
    f".find(r => r.querySelector('[data-enterprise=\"{ENTERPRISE}\"]'))"
)


async def _decide(page: Page, act: str, reason: str, amount: str = "") -> None:
    await page.wait_for(f"!!({_ROW})")
    await page.evaluate(f"({_ROW}).querySelector('[data-act={act}]').click()")
    await fill(page, "decide-reason", reason)
    if amount:
        await fill(page, "decide-amount", amount)
    await submit(page, "decide")
    await page.wait_for(f"({_ROW}).textContent.includes('已提交')")


async def _people_at_the_pages(url: str, run: Run, page: Page, shot_dir: Path) -> None:
    base, width = f"http://127.0.0.1:{run.portal_port}", WIDTHS["phone"]
    secrets = await _issue(url)
    await _status(url, "PENDING_REVIEW", 1)
    await sign_in(page, base, secrets["e2e-rev-1"], width, "/workbench")
    await _decide(page, "reject", "展会材料不全")
    await _status(url, "DENIED", 2)
    await sign_in(page, base, secrets["e2e-ent"], width, "/enterprise")
    card = f"document.querySelector('[data-entitlement=\"{ENTITLEMENT}\"]')"
    await page.wait_for(f"!!{card} && !!{card}.querySelector('[data-appeal]')")
    await page.evaluate(f"{card}.querySelector('[data-appeal]').click()")
    await fill(page, "appeal-reason", "已补充展会备案材料，请复核")
    await submit(page, "appeal")
    await page.wait_for("document.body.textContent.includes('复核申请已提交')")
    await _until(url, "SELECT count(*) FROM appeals", lambda n: n == 1, "the appeal")
    await sign_in(page, base, secrets["e2e-appr"], width, "/workbench")
    await page.wait_for("!!document.querySelector('#tabs [data-queue=APPEALS]')")
    await page.evaluate("document.querySelector('#tabs [data-queue=APPEALS]').click()")
    await _decide(page, "uphold", "材料已补齐，重新审核")
    await _status(url, "PENDING_REVIEW", 3)
    await sign_in(page, base, secrets["e2e-rev-2"], width, "/workbench")
    await _decide(page, "approve", "同意支持", amount=str(APPROVED_FEN // 100))
    await _status(url, "PAID", 4)
    await sign_in(page, base, secrets["e2e-ent"], width, "/enterprise")
    await page.wait_for(f"!!{card} && {card}.textContent.includes('¥300,000.00')")
    await page.screenshot(shot_dir / "portal-appeal-paid-phone-390.png")
    assert page.console_errors() == []


async def _told(url: str) -> None:
    """The enterprise heard of the rejection, the reopening and the payment; the bureaus of the
    appeal."""
    sent = f"""SELECT array_agg(DISTINCT split_part(d.decision_id, '#', 2))
               FROM notifier_deliveries d
               WHERE d.decision_id LIKE '{ENTITLEMENT}#%' AND d.audience = 'enterprise'
                 AND d.state = 'sent'"""  # fmt: skip
    await _until(url, sent, lambda v: v is not None and {"2", "3", "4"} <= set(v), "deliveries")
    filed = """SELECT count(*) FROM notifier_deliveries d
               JOIN notifier_appeal_notices n ON n.notice_id = d.appeal_notice_id
               WHERE n.kind = 'APPEAL_FILED' AND d.audience = 'bureau'"""
    await _until(url, filed, lambda n: n >= 1, "the bureaus told of the appeal")


async def test_an_appeal_through_the_pages_changes_the_decision_and_is_told(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    run = Run(database=f"subsidy_test_appeal_{uuid.uuid4().hex[:8]}",
              ingest_address=f"127.0.0.1:{free_port()}",
              ledger_api_address=f"127.0.0.1:{free_port()}",
              dashboard_port=free_port(), portal_port=free_port(), metrics_ports={})  # fmt: skip
    output = tmp_path / "console.txt"

    async def act(url: str, running: Run) -> bool:
        async with headless_chromium(tmp_path / "profile") as page:
            await _people_at_the_pages(url, running, page, shots(tmp_path))
        await _told(url)
        return True

    try:
        with output.open("w", encoding="utf-8") as out:
            console = Console(file=out, width=120)
            ok = await run_demo(_feed(tmp_path / "feed.jsonl"), load_catalog(), False, console,
                                run, act)  # fmt: skip
    finally:
        await drop_database(database_url, run.database)
    assert ok, output.read_text("utf-8")
