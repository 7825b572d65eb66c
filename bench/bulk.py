"""(d) Live before bulk: live events at a steady rate while a large feed goes through ingest."""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console

from bench.domain import events_file
from bench.platform import TIMEOUT_S, Platform, percentile, platform, read_decisions
from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.harness.principals import REVIEW, REVIEWER, principal_of
from subsidy.harness.waiting import await_decisions
from subsidy.infra.grpc_tls import aio_channel
from subsidy.ingest.client import ingest_file

# Live events come from another seed than the feed, about enterprises the feed never names:
# their decisions then depend on their own events only, and the export still equals simulate
# on the feed followed by them.
LIVE_SEED = 29
# Live events prepared: enough for a feed that takes this long to go in.
LIVE_SECONDS = 600


def live_lines(bulk: list[bytes], count: int) -> list[bytes]:
    """`count` lines for live submission: valid JSON events of enterprises absent from the
    bulk feed (their reviews included, so four eyes still works on them)."""
    taken = {_enterprise(line) for line in bulk}
    out: list[bytes] = []
    for line in events_file(count * 2, LIVE_SEED).read_bytes().splitlines():
        enterprise = _enterprise(line)
        if enterprise is not None and enterprise not in taken:
            out.append(line)
            if len(out) == count:
                break
    return out


def _enterprise(line: bytes) -> str | None:
    try:
        value = json.loads(line).get("enterpriseId")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


async def _submit_live(
    p: Platform, lines: list[bytes], rate: float, until: "asyncio.Task[Any]"
) -> dict[str, float]:
    """Submit each line when it is due at `rate` (Submit: a live call, never held) until the
    bulk task is done, as independent people would: one enterprise's events one after the
    other, different enterprises' at once (a slow answer to one delays no one else); returns
    each accepted event's id with the wall time it was due."""
    run, sent = p.run, {}
    previous: dict[str | None, asyncio.Task[None]] = {}  # each enterprise's last Submit

    async def submit(stub: Any, line: bytes, token: str, at: float, before: Any) -> None:
        if before is not None:
            await before  # one enterprise's events keep their order
        try:
            response = await stub.Submit(api_pb2.SubmitRequest(event_json=line),
                                         metadata=(("authorization", f"Bearer {token}"),),
                                         timeout=60)  # fmt: skip
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return  # the generator's deliberately bad lines: refused, nothing to time
        if not response.duplicate:
            sent[response.event_id] = at

    who = REVIEWER
    async with aio_channel(run.ingest_address, run.grpc_client()) as channel:
        stub = api_pb2_grpc.IngestServiceStub(channel)
        t0, wall_t0 = time.monotonic(), time.time()
        for i, line in enumerate(lines):
            if until.done():
                break
            ahead = t0 + i / rate - time.monotonic()
            if ahead > 0.001:
                await asyncio.sleep(ahead)
            who = principal_of(line, run.principals, who)
            enterprise = _enterprise(line)
            # From when it was due, not when it went: a Submit held up delays its enterprise's
            # next ones, and that wait is theirs too.
            previous[enterprise] = asyncio.create_task(submit(
                stub, line, run.principals[who].token, wall_t0 + i / rate,
                previous.get(enterprise),
            ))  # fmt: skip
        await asyncio.gather(*previous.values())
    return sent


def feeds_of(
    lines: list[bytes], principals: dict[str, Any], into: Path
) -> tuple[dict[str, Path], int]:
    """The feed's lines by source, each source's in one file in its own order: what each
    province feed would upload, and how many lines in all. Reviews are left out: reviewers
    are people, not feeds."""
    by_feed: dict[str, list[bytes]] = {}
    who = REVIEWER
    for line in lines:
        who = principal_of(line, principals, who)
        if who != REVIEWER and REVIEW.encode() not in line:
            by_feed.setdefault(who, []).append(line)
    into.mkdir(parents=True, exist_ok=True)
    paths = {name: into / f"{name}.jsonl" for name in by_feed}
    for name, path in paths.items():
        path.write_bytes(b"\n".join(by_feed[name]) + b"\n")
    return paths, sum(len(fed) for fed in by_feed.values())


def _ingest_feeds(p: Platform, feeds: dict[str, Path]) -> int:
    """Every feed file through SubmitBatch at once, as `subsidy ingest` sends one; accepted."""
    run = p.run
    with ThreadPoolExecutor(len(feeds)) as pool:
        done = [pool.submit(ingest_file, path, server=run.ingest_address,
                            token=run.principals[name].token, transport=run.grpc_client())
                for name, path in feeds.items()]  # fmt: skip
        return sum(f.result().accepted for f in done)


async def live_during_bulk(
    bulk_path: Path, live_rate: float, work: Path, console: Console
) -> dict[str, Any]:
    """The feed's lines through SubmitBatch, one upload per source at once, and meanwhile
    live events through Submit; per live event, its last decision's append time minus the
    time it was sent."""
    bulk = (await asyncio.to_thread(bulk_path.read_bytes)).splitlines()
    live = await asyncio.to_thread(live_lines, bulk, int(live_rate * LIVE_SECONDS))
    async with platform("bulk", console, notifier=False, ingest=True) as p:
        feeds, lines = await asyncio.to_thread(feeds_of, bulk, p.run.principals, work)
        console.print(f"bulk: {lines:,} feed lines from {len(feeds)} sources through ingest, "
                      f"live events at {live_rate:,.0f}/s until the feeds are in")  # fmt: skip
        started = time.monotonic()
        feed = asyncio.create_task(asyncio.to_thread(_ingest_feeds, p, feeds))
        sent = await _submit_live(p, live, live_rate, feed)
        accepted = await feed
        feed_s = time.monotonic() - started
        await await_decisions(p.url, accepted + len(sent), p.run, console, TIMEOUT_S,
                              poll_s=2.0)  # fmt: skip
        decisions = await read_decisions(p)
        p.stop(console)
    last: dict[str, int] = {}
    for at, event_id in decisions:
        if event_id in sent:
            last[event_id] = max(at, last.get(event_id, at))
    latencies = sorted(round(at - sent[e] * 1000) for e, at in last.items())
    if not latencies:
        raise RuntimeError("no live event was decided while the feed ran")
    return {
        "bulk_lines": lines,
        "bulk_accepted": accepted,
        "bulk_feed_seconds": round(feed_s, 1),
        "bulk_accepted_per_s": round(accepted / max(1e-3, feed_s)),
        "bulk_live_events": len(sent),
        "bulk_live_decided": len(latencies),
        "bulk_live_p50_ms": percentile(latencies, 0.50),
        "bulk_live_p99_ms": percentile(latencies, 0.99),
        "bulk_live_max_ms": latencies[-1],
        "target_live_p99_under_2_s_during_bulk": percentile(latencies, 0.99) < 2_000,
    }
