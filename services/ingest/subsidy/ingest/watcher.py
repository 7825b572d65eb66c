"""`subsidy feeds watch`: ingest feed files dropped into a directory, each content exactly once."""

import asyncio
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import structlog

from subsidy.infra.feeds import FEED_SUFFIXES
from subsidy.infra.grpc_tls import ClientTransport
from subsidy.ingest.client import IngestCallError, IngestSummary, ingest_file
from subsidy.ingest.permissions import FEED_WATCHER
from subsidy.ingest.store import FeedFile, FeedFileStore

log = structlog.get_logger(__name__)

DONE: Final = "done"
FAILED: Final = "failed"

Status = Literal["done", "failed", "skipped", "retry"]


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Where to watch, where to send, and how patient to be with files still being written."""

    directory: Path
    server: str
    token: str
    transport: ClientTransport  # how the server is checked (its CA), subsidy.infra.grpc_tls
    source: str
    database_url: str
    # A file is taken only once unmodified this long: writers that copy in place are done.
    settle_s: float = 1.0
    interval_s: float = 2.0
    chunk_size: int = 500


@dataclass(frozen=True, slots=True)
class FileResult:
    """What became of one file."""

    name: str
    status: Status
    detail: str = ""
    summary: IngestSummary | None = None


class WatchError(RuntimeError):
    """The watcher cannot run (directory missing, another watcher holds it)."""


def candidates(directory: Path, settle_s: float, now: float | None = None) -> list[Path]:
    """Feed files ready to take, oldest first. Partial files are left alone: names a writer
    uses before renaming (*.tmp, *.part, dot-files, Excel's ~$ lock files) do not have a feed
    suffix or are hidden, and a file modified in the last settle_s seconds is still growing."""
    now = time.time() if now is None else now
    ready = []
    for entry in directory.iterdir():
        name = entry.name
        if name.startswith((".", "~$")) or name.endswith(".errors.csv"):
            continue
        if entry.suffix.lower() not in FEED_SUFFIXES or not entry.is_file():
            continue
        mtime = entry.stat().st_mtime
        if now - mtime >= settle_s:
            ready.append((mtime, name, entry))
    return [entry for _, _, entry in sorted(ready)]


def _version(path: Path) -> tuple[int, int]:
    """Size and modification time: what changes when a file is rewritten."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _sha256(path: Path) -> tuple[str, tuple[int, int]]:
    """The content's digest, and the version of the file it was taken from."""
    version = _version(path)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), version


def _free_name(directory: Path, name: str, sha256: str) -> str:
    """The file's name in done/ and failed/, unless an earlier file took it there."""
    if not any((directory / sub / name).exists() for sub in (DONE, FAILED)):
        return name
    path = Path(name)
    return f"{path.stem}.{sha256[:12]}{path.suffix}"


async def process_file(path: Path, config: WatchConfig, files: FeedFileStore) -> FileResult:
    """Ingest one file unless its content was ingested before, record it, move it away."""
    directory = config.directory
    sha256, before = await asyncio.to_thread(_sha256, path)
    prior = await files.get(sha256)
    if prior is not None:
        target = directory / prior.status / _free_name(directory, path.name, sha256)
        os.replace(path, target)
        log.info("feeds.skipped", file=path.name, same_as=prior.file_name, moved_to=str(target))
        return FileResult(path.name, "skipped", f"same content as {prior.file_name}")
    name = _free_name(directory, path.name, sha256)
    # Straight into failed/: the report must not land in the watched directory, and there is
    # one only when the file fails.
    report = directory / FAILED / f"{name}.errors.csv"
    try:
        summary = await asyncio.to_thread(
            ingest_file, path, server=config.server, token=config.token,
            transport=config.transport, source=config.source,
            chunk_size=config.chunk_size, report=report, via=FEED_WATCHER,
        )  # fmt: skip
    except IngestCallError as err:
        log.error("feeds.ingest_refused", file=path.name, error=str(err))
        return FileResult(path.name, "retry", str(err))
    if await asyncio.to_thread(_version, path) != before:
        # Rewritten while being read: its new content gets its own turn (ingesting is
        # idempotent, so what was sent already is harmless).
        report.unlink(missing_ok=True)
        log.warning("feeds.changed_while_ingesting", file=path.name)
        return FileResult(path.name, "retry", "changed while being ingested")
    status: Literal["done", "failed"] = DONE if summary.ok else FAILED
    await files.record(
        FeedFile(sha256, path.name, status, summary.read, summary.accepted,
                 summary.duplicates, summary.rejected)
    )  # fmt: skip
    target = directory / status / name
    os.replace(path, target)
    log.info("feeds.ingested", file=path.name, status=status, moved_to=str(target),
             read=summary.read, accepted=summary.accepted, duplicates=summary.duplicates,
             rejected=summary.rejected, error=summary.file_error)  # fmt: skip
    return FileResult(path.name, status, summary.file_error or "", summary)


async def _process_safely(path: Path, config: WatchConfig, files: FeedFileStore) -> FileResult:
    try:
        return await process_file(path, config, files)
    except OSError as err:
        # Unreadable or unmovable (permissions, vanished): the others still get their turn,
        # and this one is tried again on the next scan.
        log.error("feeds.file_failed", file=path.name, error=repr(err))
        return FileResult(path.name, "retry", repr(err))


class FeedWatcher:
    """Ingests the files dropped into the configured directory, recording each in `files`
    (`subsidy.ingest.bootstrap.feeds_watcher` opens its connection and takes its lock)."""

    def __init__(self, config: WatchConfig, files: FeedFileStore) -> None:
        self.config = config
        self._files = files

    async def run(self, stop: asyncio.Event, once: bool = False) -> list[FileResult]:
        """Scan until `stop` is set, or once; with once, returns every file's result.
        `stop` is looked at between files, never halfway through one (ingested but not yet
        recorded)."""
        config = self.config
        results: list[FileResult] = []
        log.info("feeds.watching", directory=str(config.directory), once=once)
        while True:
            for path in candidates(config.directory, config.settle_s):
                if stop.is_set():
                    return results
                result = await _process_safely(path, config, self._files)
                if once:  # a long-running watcher keeps nothing: its log is the record
                    results.append(result)
            if once or stop.is_set():
                return results
            try:
                await asyncio.wait_for(stop.wait(), timeout=config.interval_s)
            except TimeoutError:
                continue
            return results
