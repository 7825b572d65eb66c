"""Driving the portal's pages in the browser: signing in, and where screenshots go."""

import json
import os
from pathlib import Path

from tests.support.chromium import Page
from tests.support.layout import open_at


def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: PORTAL_SHOTS_DIR when set (to look at them), else tmp."""
    out = Path(os.environ.get("PORTAL_SHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


async def sign_in(
    page: Page, url: str, secret: str, width: int, lands_on: str, query: str = ""
) -> None:
    """Sign in at `url` with a credential, as a person would (`query`: e.g. `?lang=en`), and
    land on the role's page."""
    await open_at(page, f"{url}/{query}", width)
    await page.evaluate(f"document.getElementById('credential').value = {json.dumps(secret)}")
    await page.evaluate("document.getElementById('login').requestSubmit()")
    await page.wait_for(
        f"location.pathname === {json.dumps(lands_on)} && document.readyState === 'complete'"
    )


async def fill(page: Page, element_id: str, value: str) -> None:
    """Type `value` into a form field."""
    await page.evaluate(
        f"document.getElementById({json.dumps(element_id)}).value = {json.dumps(value)}"
    )


async def submit(page: Page, form_id: str) -> None:
    """Submit a form as its button would."""
    await page.evaluate(f"document.getElementById({json.dumps(form_id)}).requestSubmit()")
