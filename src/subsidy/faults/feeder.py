"""The feed through the ingest API at a steady pace, so that every fault strikes mid-flow."""

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from subsidy.domain.events import InvalidEvent, parse_event_json
from subsidy.harness.principals import Principal, ingest_as_principals
from subsidy.infra.grpc_tls import ClientTransport
from subsidy.ingest.client import CHUNK, IngestSummary
from subsidy.ingest.revisions import Known, judge

# A call that finds Kafka or PostgreSQL away is retried (0.5, 1, 2, 4, then every 5 s): long
# enough to ride out a broker or database restart, as an operator's ingest job would.
RETRIES = 40


def distinct_events(lines: list[bytes]) -> int:
    """How many distinct (event id, content) the ledger must take in the end, as
    await_decisions counts them: each line the ingest API passes on, judged as it judges them
    (a new id, or a higher revision of one it took: a correction; not a repeat, nor a
    correction of an id never sent). Counted from the feed, not from the answers: a line sent
    again after a lost answer comes back a duplicate, so `accepted` can undercount."""
    known: dict[str, Known] = {}
    count = 0
    for line in lines:
        try:
            event = parse_event_json(line)
        except InvalidEvent:
            continue
        digest = event.content_hash()
        prior = known.get(event.event_id)
        if judge(event, digest, prior)[0] != "new":
            continue
        revision = event.revision_number
        known[event.event_id] = (
            Known(revision, event.enterprise_id, event.source, {revision: digest})
            if prior is None
            else prior.taking(revision, digest)
        )
        count += 1
    return count


def feed(
    lines: list[bytes],
    work: Path,
    *,
    server: str,
    principals: dict[str, Principal],
    transport: ClientTransport,
    seconds: float,
    stop: threading.Event,
    progress: Callable[[int], None],
) -> IngestSummary:
    """Submit `lines` in slices of the client's chunk size, spread evenly over `seconds`; in
    file order, one slice after the other, as `subsidy ingest` would."""
    work.mkdir(parents=True, exist_ok=True)
    slices = [lines[i : i + CHUNK] for i in range(0, len(lines), CHUNK)]
    began = time.monotonic()
    fed = IngestSummary()  # what the ingest API answered over the whole feed
    for n, chunk in enumerate(slices):
        if stop.wait(max(0.0, began + seconds * n / len(slices) - time.monotonic())):
            break
        path = work / f"slice-{n:04d}.jsonl"
        path.write_bytes(b"\n".join(chunk) + b"\n")
        summary = ingest_as_principals(path, work, server, principals, transport,
                                       retries=RETRIES)  # fmt: skip
        fed.read += summary.read
        fed.accepted += summary.accepted
        fed.duplicates += summary.duplicates
        fed.rejected += summary.rejected
        progress(fed.read)
    return fed


class FeedThread:
    """`feed` in a daemon thread (a retry that is still waiting must not hold the process at
    exit), its result an asyncio future, its progress readable at any time."""

    def __init__(
        self,
        lines: list[bytes],
        work: Path,
        server: str,
        principals: dict[str, Principal],
        transport: ClientTransport,
    ) -> None:
        self._args = (lines, work, server, principals, transport)
        self.stop = threading.Event()
        self.fed = 0

    def start(self, seconds: float) -> "asyncio.Future[IngestSummary]":
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestSummary] = loop.create_future()

        def settle(result: IngestSummary | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result or IngestSummary())

        def target() -> None:
            lines, work, server, principals, transport = self._args
            result: IngestSummary | None = None
            error: Exception | None = None
            try:
                result = feed(lines, work, server=server, principals=principals,
                              transport=transport, seconds=seconds, stop=self.stop,
                              progress=self._progress)  # fmt: skip
            except Exception as err:  # handed to the event loop, which raises it
                error = err
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=target, name="fault-feed", daemon=True).start()
        return future

    def _progress(self, read: int) -> None:
        self.fed = read
