"""`subsidy policy …`: policy reforms tried on the platform's history (`subsidy policy diff`)."""

import asyncio
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import asyncpg
import typer
from rich.console import Console

from subsidy.infra.commands import load_settings
from subsidy.ledger.history import LedgerHistory, NoStoredEvents, read_history
from subsidy.ledger.settings import LedgerSettings
from subsidy.reform.history import History, from_ledger, read_events_file
from subsidy.reform.policy import ReformInputError, load_policies
from subsidy.reform.render_html import to_html
from subsidy.reform.render_json import to_json
from subsidy.reform.render_table import print_report
from subsidy.reform.report import ReformReport, build_report

app = typer.Typer(no_args_is_help=True)

EXIT_USAGE = 2  # bad input: overlay, catalog, event file, options, output path
EXIT_LEDGER = 3  # the ledger's database is unreachable or keeps no events yet


class ReportFormat(StrEnum):
    """What `policy diff` writes."""

    table = "table"
    json = "json"
    html = "html"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{parts.username}@{host}{port}").geturl()


async def _read_ledger(url: str) -> LedgerHistory:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await read_history(conn)
    finally:
        await conn.close()


def _ledger_history() -> History:
    url = load_settings(LedgerSettings).database_url
    shown = _without_password(url)
    try:
        recorded = asyncio.run(_read_ledger(url))
    except NoStoredEvents as err:
        raise _fail(f"ledger {shown}: {err}", EXIT_LEDGER) from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        raise _fail(f"ledger {shown}: {type(err).__name__}: {err}", EXIT_LEDGER) from None
    return from_ledger(recorded, shown)


def _write(
    report: ReformReport, output_format: ReportFormat, output: Path | None, top: int
) -> None:
    if output_format is ReportFormat.table:
        if output is None:
            # Piped output is not cut at the terminal's width: rows stay on their lines.
            width = None if sys.stdout.isatty() else 120
            print_report(Console(width=width, soft_wrap=True), report, top)
            return
        with output.open("w", encoding="utf-8") as fh:
            print_report(
                Console(file=fh, width=120, soft_wrap=True, color_system=None), report, top
            )
        return
    if output_format is ReportFormat.json:
        text = json.dumps(to_json(report), ensure_ascii=False, indent=1) + "\n"
    else:
        text = to_html(report, top)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


# The longer options of `policy diff`, declared apart so that its signature stays readable.
FromLedgerOption = Annotated[
    bool,
    typer.Option(
        "--from-ledger",
        help="The history: every event the ledger took, in the order it took them (DATABASE_URL).",
    ),
]
BaselineOverlayOption = Annotated[
    Path | None,
    typer.Option(
        "--baseline-overlay",
        envvar="POLICY_OVERLAY",
        help="The overlay the platform runs, if any: part of the baseline.",
    ),
]
BaselineCatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--baseline-catalog",
        envvar="POLICY_CATALOG",
        help="The catalog the platform runs, when not the packaged one.",
    ),
]
TopOption = Annotated[
    int,
    typer.Option("--top", min=1, help="Rows of enterprises and entitlements in table/html."),
]


@app.command("diff")
def diff_command(
    reform: Annotated[
        Path,
        typer.Option("--reform", help="The reform: a policy overlay (docs/contract.md §3)."),
    ],
    events: Annotated[
        Path | None,
        typer.Option("--events", help="The history: events, one JSON object per line."),
    ] = None,
    from_ledger_: FromLedgerOption = False,
    output_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report here, not to stdout.")
    ] = None,
    baseline_overlay: BaselineOverlayOption = None,
    baseline_catalog: BaselineCatalogOption = None,
    top: TopOption = 20,
) -> None:
    """Decide a history under the current policy and under a reform, and compare the cost.

    The baseline is the policy the platform runs; the reform is the baseline with the overlay
    on top. Both decide the same events with the pure domain (`subsidy simulate`). Exit
    status: 0 compared (bad event lines are counted and listed, the rest compared); 2 bad
    input (overlay, catalog, event file, options, output); 3 the ledger's database cannot be
    read (unreachable, or keeps no events: `subsidy ledger migrate`).
    """
    if (events is None) == (not from_ledger_):
        raise _fail("give the history as --events FILE or --from-ledger (one of them)", EXIT_USAGE)
    if output is not None and not output.parent.is_dir():
        raise _fail(f"--output {output}: no such directory {output.parent}", EXIT_USAGE)
    try:
        policies = load_policies(reform, baseline_overlay, baseline_catalog)
        history = read_events_file(events) if events is not None else _ledger_history()
    except ReformInputError as err:
        raise _fail(str(err), EXIT_USAGE) from None
    if history.bad:
        typer.echo(
            f"warning: {len(history.bad):,} bad event line(s) not compared (listed in the"
            f" report); first: line {history.bad[0].line}: {history.bad[0].error}",
            err=True,
        )
    report = build_report(policies, history, datetime.now(UTC))
    try:
        _write(report, output_format, output, top)
    except OSError as err:
        raise _fail(f"--output {output}: {err.strerror or err}", EXIT_USAGE) from None
    if output is not None:
        typer.echo(f"wrote {output}", err=True)
