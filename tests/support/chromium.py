"""Headless Chromium driven over the Chrome DevTools Protocol with aiohttp's websocket client."""

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

BOOTSTRAP_HINT = "run scripts/bootstrap.sh chromium"

# Headless as root in a container; nothing reaches beyond this machine: no background
# services, no QUIC, and every host name but the loopback address resolves to nothing.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1440,1400",
)


class CdpError(RuntimeError):
    """A DevTools command failed."""


class Cdp:
    """One DevTools websocket: commands with ids, answered in any order; events are kept in
    `events` (a test reads the console from them)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "method" in data:
                self.events.append(data)
                continue
            future = self._pending.pop(data.get("id", -1), None)
            if future is None or future.done():
                continue
            if "error" in data:
                future.set_exception(CdpError(json.dumps(data["error"])))
            else:
                future.set_result(data.get("result", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("DevTools connection closed"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command (to a page when `session` is given) and wait for its answer."""
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        message: dict[str, Any] = {"id": command_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self._ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, cdp: Cdp, session: str) -> None:
        self.cdp = cdp
        self.session = session

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.cdp.send(method, params, self.session)

    async def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-serialisable), promises awaited."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(json.dumps(result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"still falsy after {timeout_s}s: {expression}")
            await asyncio.sleep(0.1)

    async def navigate(self, url: str) -> None:
        """Load a page and wait until its document is complete."""
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    async def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG."""
        result = await self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))
        return path

    def console_errors(self) -> list[str]:
        """What the page reported as errors so far: uncaught exceptions, console.error, and
        the browser's own log (a resource that failed to load, a blocked request, …)."""
        found = []
        for e in self.cdp.events:
            if e.get("sessionId") != self.session:
                continue
            method, params = e["method"], e.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return found

    async def fonts_of(self, selector: str) -> list[dict[str, Any]]:
        """The platform fonts Chromium used for the text of the first node matching
        `selector` (family name and glyph count): shows whether CJK glyphs had a font."""
        await self.send("DOM.enable")
        await self.send("CSS.enable")
        root = await self.send("DOM.getDocument", {"depth": 0})
        node = await self.send(
            "DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector}
        )
        fonts = await self.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
        return list(fonts["fonts"])


def chromium_path() -> str:
    """The browser, or a failure that says how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError(f"chromium is not installed: {BOOTSTRAP_HINT}")
    return path


@asynccontextmanager
async def headless_chromium(profile: Path) -> AsyncIterator[Page]:
    """A headless Chromium on a fresh profile with one blank tab; closed afterwards."""
    process = await asyncio.create_subprocess_exec(
        chromium_path(),
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    cdp: Cdp | None = None
    session: aiohttp.ClientSession | None = None
    try:
        # With port 0 Chromium picks a port and writes it, and the browser's websocket path,
        # into the profile.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start (exit code {process.returncode})")
            await asyncio.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        cdp = Cdp(ws)
        target = await cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(cdp, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send("Log.enable")
        yield page
    finally:
        if cdp is not None:
            with contextlib.suppress(Exception):
                await cdp.send("Browser.close")
            await cdp.close()
        if session is not None:
            await session.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
