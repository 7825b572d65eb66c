"""The portal's pages in English on request, Chinese first, in headless Chromium."""

# With ?lang=en the sign-in, enterprise and workbench pages show no Chinese character outside data
# (names, titles, clauses, bureaus: marked .data), statuses and reasons in the domain's English
# words, the choice survives the sign-in redirect, nothing sticks out at 390 px; the switch back to
# 中文 restores Chinese, and a page opened without ?lang is Chinese.

import json
from pathlib import Path

import pytest

from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_EN
from subsidy.domain.words import CHECK_LABELS, REASON_WORDS, STATUS_WORDS
from subsidy.identity.principal import Role
from tests.portal.pages import shots
from tests.portal.stack import PortalStack
from tests.support.chromium import Page, headless_chromium
from tests.support.layout import WIDTHS, find_spills, open_at

pytestmark = pytest.mark.asyncio(loop_scope="session")

# An enterprise of the fed ledger with denials and reasons (tests/ledger/api.py's mix).
APPELLANT = "91320500MA00410003"
SCROLLING, AMOUNTS = ".table-wrap, .explain", ".money"

# The domain's English words that carry a Chinese term of art on purpose (就高不重复).
_KEPT = sorted({w["en"] for w in REASON_WORDS.values()} | {en for _, en in CHECK_LABELS.values()})

# Every Chinese character (and full-width punctuation) the page shows outside data: text,
# the tab's title and placeholders. The language switch names 中文 in Chinese (lang="zh-CN").
_CJK = """JSON.stringify(((kept) => {
  const cjk = /[\\u3000-\\u303f\\u3400-\\u9fff\\uff00-\\uffef]/, out = [];
  const strip = (text) => kept.reduce((t, w) => t.split(w).join(""), text);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('.data, [lang^="zh"], script, style')) continue;
    if (cjk.test(strip(n.textContent))) out.push(n.textContent.trim().slice(0, 80));
  }
  if (cjk.test(document.title)) out.push("title: " + document.title);
  for (const el of document.querySelectorAll("[placeholder]")) {
    if (cjk.test(el.placeholder)) out.push("placeholder: " + el.placeholder);
  }
  return out;
})(%s))"""


async def _chinese_outside_data(page: Page) -> list[str]:
    found: list[str] = json.loads(await page.evaluate(_CJK % json.dumps(_KEPT)))
    return found


async def _sign_in(page: Page, url: str, secret: str, width: int, lands_on: str) -> None:
    """Sign in from the English sign-in page and land on the role's page."""
    await open_at(page, f"{url}/?lang=en", width)
    await page.evaluate(f"document.getElementById('credential').value = {json.dumps(secret)}")
    await page.evaluate("document.getElementById('login').requestSubmit()")
    await page.wait_for(f"location.pathname === {json.dumps(lands_on)}")


async def _switch(page: Page, lang: str) -> None:
    """Choose a language in the header's switch, as a person would."""
    await page.evaluate(f"document.querySelector('nav.lang a[data-lang={lang}]').click()")
    await page.wait_for(f"location.search === '?lang={lang}' && document.readyState === 'complete'")


_BADGES = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-entitlement]')]
  .map(c => [c.dataset.entitlement, {status: c.querySelector('.badge').textContent,
    reasons: (c.querySelector('.reasons') || {}).textContent || ""}])))"""


async def test_sign_in_in_english_and_back_and_chinese_by_default(
    stack: PortalStack, tmp_path: Path
) -> None:
    async with headless_chromium(tmp_path / "profile") as page:
        await open_at(page, f"{stack.url}/?lang=en", WIDTHS["phone"])
        assert await page.evaluate("document.documentElement.lang") == "en"
        assert await _chinese_outside_data(page) == []
        assert await find_spills(page, SCROLLING, AMOUNTS) == []
        await page.evaluate("document.getElementById('credential').value = 'sbp_wrong'")
        await page.evaluate("document.getElementById('login').requestSubmit()")
        shown = await page.wait_for("document.getElementById('login-error').textContent")
        assert shown.startswith(("Request failed (", "Your session has ended")), shown
        assert await _chinese_outside_data(page) == []
        await _switch(page, "zh")
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        assert await page.evaluate("document.querySelector('h2').textContent") == "登录 Sign in"
        assert await _chinese_outside_data(page) != []  # the check sees Chinese where it is
        assert await page.evaluate("sessionStorage.getItem('subsidy.lang')") == "zh"
        # The one error is the wrong credential's 401, as the sign-in expects.
        assert all("401" in e for e in page.console_errors()), page.console_errors()
    async with headless_chromium(tmp_path / "fresh") as page:
        await open_at(page, f"{stack.url}/", WIDTHS["phone"])
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        assert await page.evaluate("location.search") == ""
        assert "免申即享" in await page.evaluate("document.title")
        assert await page.evaluate("document.querySelector('button').textContent") == "登录"


async def test_the_enterprise_page_in_english_then_chinese(
    stack: PortalStack, tmp_path: Path
) -> None:
    secret = await stack.credential("ent-mix-en", Role.ENTERPRISE, enterprise_id=APPELLANT)
    token = await stack.session("auditor-zhao")
    status, statement = await stack.call(
        "LedgerService", "GetStatement", {"enterpriseId": APPELLANT}, token
    )
    assert status == 200
    decisions = statement["entitlements"]
    english = {
        d["entitlementId"]: {
            "status": STATUS_WORDS[d["status"]]["en"],
            "reasons": "Reasons: " + "; ".join(REASON_WORDS[r]["en"] for r in d["reasons"])
            if d.get("reasons")
            else "",
        }
        for d in decisions
    }
    assert any(e["reasons"] for e in english.values()), "the mix has reasons to show"
    async with headless_chromium(tmp_path / "profile") as page:
        for name, width in WIDTHS.items():
            await _sign_in(page, stack.url, secret, width, "/enterprise")
            await page.wait_for("document.querySelectorAll('[data-entitlement]').length > 0")
            assert await page.evaluate("location.search") == "?lang=en"
            assert await page.evaluate("document.documentElement.lang") == "en"
            assert json.loads(await page.evaluate(_BADGES)) == english
            district = DISTRICT_NAMES_EN[decisions[0]["district"]]
            assert district in await page.evaluate("document.getElementById('summary').textContent")
            assert await _chinese_outside_data(page) == [], name
            assert await find_spills(page, SCROLLING, AMOUNTS) == [], name
            await page.screenshot(shots(tmp_path) / f"portal-enterprise-en-{name}-{width}.png")
        await page.evaluate("document.querySelector('[data-explain]').click()")
        text = await page.wait_for(
            "document.getElementById('explain-body').textContent.includes('[Eligibility]')"
            " && document.getElementById('explain-body').textContent"
        )
        assert "[Decisions]" in text
        assert CHECK_LABELS["window"][1] in text
        assert await _chinese_outside_data(page) == []
        assert await find_spills(page, SCROLLING, AMOUNTS) == []
        await page.evaluate("document.getElementById('explain-close').click()")
        await _switch(page, "zh")
        await page.wait_for("document.querySelectorAll('[data-entitlement]').length > 0")
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        chinese = json.loads(await page.evaluate(_BADGES))
        assert {k: v["status"] for k, v in chinese.items()} == {
            d["entitlementId"]: STATUS_LABELS_ZH[d["status"]] for d in decisions
        }
        assert "我的资格" in await page.evaluate("document.body.textContent")
        assert page.console_errors() == []


_STATUSES = """JSON.stringify([...document.querySelectorAll('#statement tbody tr')].map(r =>
  r.querySelector('.badge').textContent))"""


async def test_the_workbench_in_english_then_chinese(stack: PortalStack, tmp_path: Path) -> None:
    reviewer = stack.credentials["reviewer-kj"]
    async with headless_chromium(tmp_path / "profile") as page:
        for name, width in WIDTHS.items():
            await _sign_in(page, stack.url, reviewer, width, "/workbench")
            await page.wait_for("document.querySelectorAll('#cases tr[data-case]').length > 0")
            tabs = await page.evaluate("document.getElementById('tabs').textContent")
            assert "To review" in tabs
            assert "Appeals" in tabs
            approve = await page.evaluate(
                "document.querySelector('[data-act=approve]').textContent"
            )
            assert approve == "Approve"
            assert await _chinese_outside_data(page) == [], name
            assert await find_spills(page, SCROLLING, AMOUNTS) == [], name
            await page.screenshot(shots(tmp_path) / f"portal-workbench-en-{name}-{width}.png")
        await page.evaluate("document.getElementById('query').value = '苏州'")
        await page.evaluate("document.getElementById('search').requestSubmit()")
        await page.wait_for("!!document.querySelector('#matches [data-enterprise]')")
        enterprise = await page.evaluate(
            "document.querySelector('#matches [data-enterprise]').dataset.enterprise"
        )
        await page.evaluate("document.querySelector('#matches [data-enterprise]').click()")
        await page.wait_for("!!document.querySelector('#statement table')")
        _, statement = await stack.call(
            "LedgerService",
            "GetStatement",
            {"enterpriseId": enterprise},
            await stack.session("reviewer-kj"),
        )
        shown = json.loads(await page.evaluate(_STATUSES))
        assert shown == [STATUS_WORDS[d["status"]]["en"] for d in statement["entitlements"]]
        assert await _chinese_outside_data(page) == []
        assert await find_spills(page, SCROLLING, AMOUNTS) == []
        await _switch(page, "zh")
        await page.wait_for("document.querySelectorAll('#cases tr[data-case]').length > 0")
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        tabs = await page.evaluate("document.getElementById('tabs').textContent")
        assert "待审核" in tabs
        assert "复核申请" in tabs
        assert page.console_errors() == []
