"""What the portal takes from a caller before anything reads it."""

# A request body of at most MAX_BODY bytes, never compressed. An unauthenticated caller can reach
# the public methods, so a large or decompressing body must be refused before it is held in memory.

import json
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A Submit with a 2,000-character reason is a few KB; every request of the API fits in this.
MAX_BODY = 64 * 1024


def _too_large() -> bytes:
    return json.dumps(
        {"code": "resource_exhausted", "message": f"the request body exceeds {MAX_BODY} bytes"}
    ).encode()


async def _refuse(send: Send) -> None:
    body = _too_large()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _declared(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return MAX_BODY + 1
    return None


def _counting(receive: Receive) -> Callable[[], Awaitable[Message]]:
    """`receive`, ending the request as a disconnect once more than MAX_BODY bytes came: a
    body without a declared length is cut off there."""
    taken = 0

    async def limited() -> Message:
        nonlocal taken
        message = await receive()
        if message["type"] == "http.request":
            taken += len(message.get("body", b""))
            if taken > MAX_BODY:
                return {"type": "http.disconnect"}
        return message

    return limited


async def limited(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve `app` with the body limit: a declared length over it is answered 413 at once."""
    declared = _declared(scope)
    if declared is not None and declared > MAX_BODY:
        await _refuse(send)
        return
    await app(scope, _counting(receive), send)
