"""What a page must not do at any width, checked in the browser."""

# Stick out of the window sideways, or clip or wrap an amount. Shared by the dashboard's and the
# portal's page tests.

import json

from tests.support.chromium import Page

WIDTHS = {"desktop": 1440, "phone": 390}

# Whatever sticks out: the page wider than the window, an element outside the window that is
# not inside a container scrolling sideways on purpose (`scrolling`), an amount (`amounts`)
# clipped or on two lines, a chart label cut, a scroll box beyond the window.
_SPILLS = """JSON.stringify(((scrolling, amounts) => {
  const out = [], width = window.innerWidth;
  if (document.documentElement.scrollWidth > width) {
    out.push("page " + document.documentElement.scrollWidth + " > " + width);
  }
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || el.closest(scrolling)) { continue; }
    if (r.right > width + 0.5 || r.left < -0.5) {
      out.push("outside: " + el.tagName + "." + el.className + " " + el.textContent.slice(0, 40));
    }
  }
  for (const td of document.querySelectorAll(amounts)) {
    if (!td.textContent) { continue; }
    if (td.scrollWidth > td.clientWidth + 1) { out.push("clipped: " + td.textContent); }
    const range = document.createRange();
    range.selectNodeContents(td);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    if (lines.size > 1) { out.push("wrapped: " + td.textContent); }
  }
  for (const text of document.querySelectorAll("svg text")) {
    const box = text.getBBox(), svg = text.ownerSVGElement.viewBox.baseVal;
    if (box.x < 0 || box.x + box.width > svg.width) { out.push("axis cut: " + text.textContent); }
  }
  for (const box of document.querySelectorAll(scrolling)) {
    const r = box.getBoundingClientRect();
    if (r.right > width + 0.5) { out.push("scroll box beyond the window"); }
  }
  return out;
})(%s, %s))"""


async def find_spills(page: Page, scrolling: str, amounts: str) -> list[str]:
    """Everything on the page that breaks the rules above (empty: nothing)."""
    found: list[str] = json.loads(
        await page.evaluate(_SPILLS % (json.dumps(scrolling), json.dumps(amounts)))
    )
    return found


async def open_at(page: Page, url: str, width: int) -> None:
    """Load url in a window `width` px wide (a phone's under 600 px)."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    await page.send("Emulation.setDeviceMetricsOverride", metrics)
    await page.navigate(url)
