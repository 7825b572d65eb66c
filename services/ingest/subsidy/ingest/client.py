"""Client of `subsidy ingest`: stream a feed's valid rows through SubmitBatch, report the rest."""

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import grpc

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import event_to_proto
from subsidy.events.v1.events_pb2 import FieldError
from subsidy.infra.feeds import (
    DEFAULT_SOURCE,
    FeedError,
    FeedRow,
    field_name,
    is_tabular,
    read_feed,
)
from subsidy.infra.grpc_tls import ClientTransport, channel
from subsidy.infra.retries import OUTBOUND_CALL
from subsidy.infra.spreadsheet_cells import safe_row
from subsidy.ingest.permissions import CHANNEL_HEADER, CLI_FILE

CHUNK = 500
# Worth retrying: the server tells UNAVAILABLE when Kafka or PostgreSQL failed, and nothing is
# recorded that a retry would repeat (accepted events come back as duplicates);
# RESOURCE_EXHAUSTED when the pipeline's backlog stayed at its bound for the whole wait
# (a retry finds what went before as duplicates), which passes as the pipeline catches up.
_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.RESOURCE_EXHAUSTED})  # fmt: skip
REPORT_COLUMNS = ("row", "eventId", "field", "message")


def _retryable(err: BaseException) -> bool:
    return isinstance(err, grpc.RpcError) and err.code() in _RETRYABLE


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One error of one row, as the error report lists it."""

    row: int
    event_id: str
    field: str
    message: str


@dataclass
class IngestSummary:
    """What happened to a file's rows."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[ReportLine] = field(default_factory=list)
    file_error: str | None = None
    report: Path | None = None

    @property
    def ok(self) -> bool:
        """Every row read was accepted or already there."""
        return self.rejected == 0 and self.file_error is None


class IngestCallError(Exception):
    """The server refused a whole call (bad token, unreachable after retries, …)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def report_path_for(path: Path) -> Path:
    """`<file>.errors.csv` beside the input."""
    return path.with_name(f"{path.name}.errors.csv")


def estimate_rows(path: Path) -> int | None:
    """Roughly how many rows the file has, for a progress bar (None if unknown)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            from openpyxl import load_workbook  # slow import, only for XLSX

            workbook = load_workbook(path, read_only=True)
            try:
                max_row = workbook.worksheets[0].max_row
            finally:
                workbook.close()
            return max(max_row - 1, 0) if isinstance(max_row, int) else None
        with path.open("rb") as f:
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
        return max(lines - (1 if is_tabular(path) else 0), 0)
    except Exception:  # an estimate only: the real read reports the real problem
        return None


def _request(row: FeedRow) -> api_pb2.SubmitRequest:
    """A JSONL line goes as read; a spreadsheet row as the event it became."""
    if row.raw is not None:
        return api_pb2.SubmitRequest(event_json=row.raw)
    assert row.event is not None, "only rows with an event or a raw line are submitted"
    return api_pb2.SubmitRequest(event=event_to_proto(row.event))


def _chunks(rows: Iterable[FeedRow], size: int) -> Iterator[list[FeedRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass
class _InFlight:
    """A SubmitBatch call whose answer has not been read yet."""

    rows: list[FeedRow]  # every row of the chunk, for the progress count
    submitted: list[FeedRow]  # the valid ones, in request order
    requests: list[api_pb2.SubmitRequest]
    future: grpc.Future


class _Submitter:
    def __init__(self, path: Path, channel: grpc.Channel, token: str, *, retries: int,
                 timeout_s: float, summary: IngestSummary, via: str) -> None:  # fmt: skip
        self._path = path
        self._stub = api_pb2_grpc.IngestServiceStub(channel)
        # The channel is declared, for the provenance the server records; the token is what
        # names the principal.
        self._metadata = (("authorization", f"Bearer {token}"), (CHANNEL_HEADER, via))
        self._retries = retries
        self._timeout_s = timeout_s
        self._summary = summary

    def start(self, rows: list[FeedRow], submitted: list[FeedRow]) -> _InFlight:
        requests = [_request(r) for r in submitted]
        return _InFlight(rows, submitted, requests, self._call(requests))

    def _call(self, requests: Sequence[api_pb2.SubmitRequest]) -> grpc.Future:
        return self._stub.SubmitBatch.future(
            iter(requests), metadata=self._metadata, timeout=self._timeout_s
        )

    def finish(self, call: _InFlight) -> None:
        started: list[grpc.Future] = [call.future]

        def result() -> api_pb2.SubmitBatchResponse:
            # The call already in flight first; each retry sends the chunk anew.
            future = started.pop() if started else self._call(call.requests)
            response: api_pb2.SubmitBatchResponse = future.result()
            return response

        try:
            response = OUTBOUND_CALL.bounded(attempts=self._retries + 1).call_sync(
                result, _retryable, event="ingest.submit_retry", file=self._path.name
            )
        except grpc.RpcError as err:
            raise IngestCallError(err.code(), err.details() or "") from None
        s = self._summary
        s.accepted += response.accepted
        s.duplicates += response.duplicates
        for rejection in response.rejected:
            row = call.submitted[rejection.index]
            event_id = rejection.event_id or row.event_id or ""
            s.rejected += 1
            errors = rejection.errors or [FieldError(field="event", message="rejected")]
            for e in errors:
                s.errors.append(
                    ReportLine(row.row, event_id, field_name(self._path, e.field), e.message)
                )


def ingest_file(
    path: Path,
    *,
    server: str,
    token: str,
    transport: ClientTransport,
    source: str = DEFAULT_SOURCE,
    chunk_size: int = CHUNK,
    report: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
    retries: int = 3,
    timeout_s: float = 120.0,
    via: str = CLI_FILE,
) -> IngestSummary:
    """Ingest one feed file and write its error report (`report`, by default beside the file;
    a stale one is removed when there are no errors). Chunks go one after the other, so the
    file's order is the order on Kafka; the next chunk is read while the server works on the
    current one. `via`: the channel the server records with each accepted event (the feed
    watcher says FEED_WATCHER). The server is checked as `transport` says (its CA; plaintext
    only when asked for). Raises IngestCallError when the server refuses a call (a failed TLS
    handshake is UNAVAILABLE)."""
    summary = IngestSummary()
    summary.report = report or report_path_for(path)
    # Answers list every rejection of a chunk; allow large ones.
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    with channel(server, transport, options) as opened:
        submitter = _Submitter(path, opened, token, retries=retries, timeout_s=timeout_s,
                               summary=summary, via=via)  # fmt: skip
        in_flight: _InFlight | None = None
        try:
            for rows in _chunks(read_feed(path, source), chunk_size):
                summary.read += len(rows)
                submitted = []
                for r in rows:
                    # JSONL lines go to the server even when bad: it records the rejection.
                    if r.event is None and r.raw is None:
                        summary.rejected += 1
                        summary.errors.extend(
                            ReportLine(r.row, r.event_id or "", e.field, e.message)
                            for e in r.errors
                        )
                    else:
                        submitted.append(r)
                if in_flight is not None:
                    call, in_flight = in_flight, None
                    _finish(submitter, call, on_progress)
                if submitted:
                    in_flight = submitter.start(rows, submitted)
                elif on_progress is not None:
                    on_progress(len(rows))
        except FeedError as err:
            summary.file_error = str(err)
            summary.errors.append(ReportLine(err.row, "", err.field, err.message))
        if in_flight is not None:
            # Even after a file error, rows already sent are answered and reported.
            _finish(submitter, in_flight, on_progress)
    write_report(summary.report, summary.errors)
    return summary


def _finish(
    submitter: _Submitter, call: _InFlight, on_progress: Callable[[int], None] | None
) -> None:
    submitter.finish(call)
    if on_progress is not None:
        on_progress(len(call.rows))


def write_report(path: Path, errors: Sequence[ReportLine]) -> None:
    """The per-row error report, sorted by row; no errors, no report (a stale one goes)."""
    if not errors:
        path.unlink(missing_ok=True)
        return
    # With a BOM, because the people who read this open it in Excel, which otherwise takes
    # UTF-8 for the local code page and garbles the Chinese column names.
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REPORT_COLUMNS)
        # Ids, column names and messages quote the feed's own text, which may be a formula.
        for line in sorted(errors, key=lambda e: e.row):
            writer.writerow(safe_row([line.row, line.event_id, line.field, line.message]))
