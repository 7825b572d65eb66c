"""The portal's pages in headless Chromium at a desktop's width (1440 px) and a phone's (390 px)."""

# Sign in with a credential, an enterprise's entitlements with their amounts and explanation, an
# appeal filed from the page; the workbench's queue, a review decided from the page with its reason,
# and the enterprise search down to a statement. Nothing sticks out sideways, no amount is clipped
# or wrapped, the page logs no error, and what the pages send reaches the ingest API as the
# signed-in person, through the portal's channel.

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog

from subsidy.domain.money import format_fen
from subsidy.identity.principal import Role
from tests.ledger import payments_seed
from tests.portal.pages import fill, shots, sign_in, submit
from tests.portal.stack import PortalStack
from tests.support.chromium import headless_chromium
from tests.support.layout import WIDTHS, find_spills, open_at

pytestmark = pytest.mark.asyncio(loop_scope="session")
log = structlog.get_logger(__name__)

# An enterprise of the fed ledger with denials to appeal (tests/ledger/api.py's mix).
APPELLANT = "91320500MA00410003"
SCROLLING, AMOUNTS = ".table-wrap, .explain", ".money"


async def _decisions(stack: PortalStack, enterprise: str) -> int:
    conn = await asyncpg.connect(stack.owner_url)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM decisions WHERE enterprise_id = $1", enterprise
        )
    finally:
        await conn.close()
    return n


async def _accepted(stack: PortalStack, principal: str) -> list[dict[str, Any]]:
    """What the ingest API accepted from `principal` through the pages, and through where."""
    conn = await asyncpg.connect(stack.owner_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id, submitted_by, channel FROM ingest_accepted_events"
            " WHERE submitted_by = $1 AND event_id LIKE 'portal-%' ORDER BY accepted_at",
            principal)  # fmt: skip
    finally:
        await conn.close()
    return [dict(r) for r in rows]


_CARDS = """JSON.stringify([...document.querySelectorAll('[data-entitlement]')].map(c => ({
  id: c.dataset.entitlement, paid: c.querySelector('.money').textContent,
  appealable: !!c.querySelector('[data-appeal]')})))"""


async def test_the_enterprise_page_explains_and_files_an_appeal(
    stack: PortalStack, tmp_path: Path
) -> None:
    secret = await stack.credential("ent-mix", Role.ENTERPRISE, enterprise_id=APPELLANT)
    status, statement = await stack.call(
        "LedgerService",
        "GetStatement",
        {"enterpriseId": APPELLANT},
        await stack.session("auditor-zhao"),
    )
    assert status == 200
    expected = {
        d["entitlementId"]: format_fen(int(d.get("grantedFen", 0)))
        for d in statement["entitlements"]
    }
    async with headless_chromium(tmp_path / "profile") as page:
        for name, width in WIDTHS.items():
            await sign_in(page, stack.url, secret, width, "/enterprise")
            await page.wait_for("document.querySelectorAll('[data-entitlement]').length > 0")
            cards = json.loads(await page.evaluate(_CARDS))
            assert {c["id"]: c["paid"] for c in cards} == expected
            assert await find_spills(page, SCROLLING, AMOUNTS) == [], name
            shot = await page.screenshot(shots(tmp_path) / f"portal-enterprise-{name}-{width}.png")
            log.info("portal.screenshot", path=str(shot))
        await page.evaluate("document.querySelector('[data-explain]').click()")
        text = await page.wait_for(
            "document.getElementById('explain-body').textContent.includes('资格判定')"
            " && document.getElementById('explain-body').textContent"
        )
        assert "决定记录" in text
        assert "政策有效期" in text  # the ledger's checks in the words docs/rules.md uses
        await page.evaluate("document.getElementById('explain-close').click()")
        await page.evaluate("document.querySelector('[data-appeal]').click()")
        await page.evaluate(
            "document.getElementById('appeal-reason').value = '已提交补充材料，请复核'"
        )
        await page.evaluate("document.getElementById('appeal-attachment').value = 'FILE-2026-001'")
        await page.evaluate("document.getElementById('appeal').requestSubmit()")
        await page.wait_for("document.body.textContent.includes('复核申请已提交')")
        notices = await page.evaluate("document.querySelectorAll('#notices tbody tr').length")
        assert notices == min(20, await _decisions(stack, APPELLANT))
        await fill(page, "bank", "中国工商银行苏州分行")
        await fill(page, "account", "6222021102000012345")
        await submit(page, "payee")
        await page.wait_for("document.getElementById('payee-done').textContent")
        assert page.console_errors() == []
    accepted = await _accepted(stack, "ent-mix")
    assert len(accepted) == 2  # the appeal and the payee account
    assert {a["channel"] for a in accepted} == {"PORTAL"}


async def test_a_wrong_credential_is_told_in_chinese(stack: PortalStack, tmp_path: Path) -> None:
    async with headless_chromium(tmp_path / "profile") as page:
        await open_at(page, f"{stack.url}/", WIDTHS["phone"])
        await page.evaluate("document.getElementById('credential').value = 'sbp_wrong'")
        await page.evaluate("document.getElementById('login').requestSubmit()")
        shown = await page.wait_for("document.getElementById('login-error').textContent")
        assert "请求失败" in shown or "登录已失效" in shown
        assert await page.evaluate("location.pathname") == "/"


_ROWS = """JSON.stringify([...document.querySelectorAll('#cases tr[data-case]')].map(r => ({
  id: r.dataset.case, amount: r.querySelector('td.money').textContent,
  approve: !!r.querySelector('[data-act=approve]')})))"""


async def test_the_workbench_lists_decides_and_drills_down(
    stack: PortalStack, tmp_path: Path
) -> None:
    reviewer = stack.credentials["reviewer-kj"]
    token = await stack.session("reviewer-kj")
    before = await _accepted(stack, "reviewer-kj")
    status, queue = await stack.call(
        "WorkbenchService", "ListQueue", {"bureau": "市科技局", "queue": "REVIEW"}, token
    )
    assert status == 200
    assert queue["cases"], "the fed ledger has reviews for 市科技局"
    async with headless_chromium(tmp_path / "profile") as page:
        for name, width in WIDTHS.items():
            await sign_in(page, stack.url, reviewer, width, "/workbench")
            await page.wait_for("document.querySelectorAll('#cases tr[data-case]').length > 0")
            rows = json.loads(await page.evaluate(_ROWS))
            assert [r["id"] for r in rows] == [c["caseId"] for c in queue["cases"]]
            assert rows[0]["amount"] == format_fen(int(queue["cases"][0].get("amountFen", 0)))
            assert all(r["approve"] for r in rows)
            assert await find_spills(page, SCROLLING, AMOUNTS) == [], name
            shot = await page.screenshot(shots(tmp_path) / f"portal-workbench-{name}-{width}.png")
            log.info("portal.screenshot", path=str(shot))
        await page.evaluate("document.querySelector('[data-act=reject]').click()")
        await page.evaluate("document.getElementById('decide-reason').value = '材料不全'")
        await page.evaluate("document.getElementById('decide').requestSubmit()")
        await page.wait_for("document.body.textContent.includes('已提交')")
        await page.evaluate("document.getElementById('query').value = '苏州'")
        await page.evaluate("document.getElementById('search').requestSubmit()")
        await page.wait_for("!!document.querySelector('#matches [data-enterprise]')")
        await page.evaluate("document.querySelector('#matches [data-enterprise]').click()")
        await page.wait_for("!!document.querySelector('#statement table')")
        assert page.console_errors() == []
    [decided] = [e for e in await _accepted(stack, "reviewer-kj") if e not in before]
    assert decided["channel"] == "PORTAL"


async def test_an_auditor_chooses_the_bureau_and_decides_nothing(
    stack: PortalStack, tmp_path: Path
) -> None:
    async with headless_chromium(tmp_path / "profile") as page:
        await sign_in(page, stack.url, stack.credentials["auditor-zhao"], 1440, "/workbench")
        await page.wait_for("!document.getElementById('bureau-choice').hidden")
        await page.evaluate(
            "const s = document.getElementById('bureau'); s.value = '市科技局';"
            " s.dispatchEvent(new Event('change'))"
        )
        await page.wait_for("document.querySelectorAll('#cases tr[data-case]').length > 0")
        assert await page.evaluate("document.querySelectorAll('[data-act]').length") == 0
        assert page.console_errors() == []


_PAYMENTS = """JSON.stringify([...document.querySelectorAll('[data-entitlement]')].flatMap(c =>
  [...c.querySelectorAll('.payment')].map(p => p.textContent)))"""


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_payments_are_shown_in_the_ledgers_words(
    stack: PortalStack, tmp_path: Path, lang: str
) -> None:
    who = payments_seed.GAMMA  # an order returned by the bank, another payable
    secret = await stack.credential("ent-gamma", Role.ENTERPRISE, enterprise_id=who)
    status, statement = await stack.call(
        "LedgerService", "GetStatement", {"enterpriseId": who}, await stack.session("auditor-zhao")
    )
    assert status == 200
    words = [p["statusZh" if lang == "zh" else "statusEn"] for p in statement["payments"]]
    assert any(w.startswith(("银行退回", "Returned by the bank")) for w in words), words
    async with headless_chromium(tmp_path / "profile") as page:
        query = "" if lang == "zh" else "?lang=en"
        await sign_in(page, stack.url, secret, WIDTHS["phone"], "/enterprise", query)
        await page.wait_for("document.querySelectorAll('[data-entitlement] .payment').length > 0")
        shown = json.loads(await page.evaluate(_PAYMENTS))
        assert sorted(w for s in shown for w in words if w in s) == sorted(words), shown
        assert await find_spills(page, SCROLLING, AMOUNTS) == []
        assert page.console_errors() == []
