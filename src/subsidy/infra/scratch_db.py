"""Databases made for one run (the main job, tests, benchmarks): named beside the base URL's,
dropped patiently."""

import asyncio
import time

import asyncpg

# An autovacuum worker may be busy in a database just filled (200,000 events: tens of
# seconds); DROP … WITH (FORCE) may not end it unless we are a superuser, so wait it out.
DROP_PATIENCE_S = 180.0


def url_of(base_url: str, name: str) -> str:
    """The URL of database `name` on the server (and as the role) of base_url."""
    return f"{base_url.rpartition('/')[0]}/{name}"


async def drop_database(base_url: str, name: str, patience_s: float = DROP_PATIENCE_S) -> None:
    """DROP DATABASE IF EXISTS name WITH (FORCE), retried while autovacuum holds it."""
    deadline = time.monotonic() + patience_s
    admin = await asyncpg.connect(base_url)
    try:
        while True:
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except asyncpg.InsufficientPrivilegeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)
    finally:
        await admin.close()
