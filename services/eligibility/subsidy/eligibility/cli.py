"""`subsidy eligibility …`: dry-run evaluation of events, and the eligibility worker and server."""

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from subsidy.domain.entitlements import Entitlement
from subsidy.domain.evaluator import evaluate
from subsidy.eligibility import evaluate_report
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import FormatOption, Lang, LangOption, OutputFormat
from subsidy.infra.commands import (
    EXIT_USAGE,
    load_catalog_or_exit,
    load_settings,
    require_kafka_login,
    service_policy,
)
from subsidy.infra.feeds import (
    DEFAULT_SOURCE,
    FeedError,
    check_source,
    is_tabular,
    read_feed,
    read_jsonl,
)
from subsidy.infra.gc_tuning import tune_gc
from subsidy.infra.metrics import start_metrics_server

app = typer.Typer(no_args_is_help=True)

OverlayOption = Annotated[
    Path | None,
    typer.Option("--policy-overlay", exists=True, dir_okay=False,
                 help="YAML that changes the catalog (docs/contract.md §3)."),
]  # fmt: skip


def _entitlement_view(e: Entitlement) -> dict[str, Any]:
    return {
        "entitlementId": e.entitlement_id,
        "ruleId": e.rule_id,
        "measure": e.measure,
        "itemId": e.item_id,
        "year": e.year,
        "award": e.award.value,
        "status": e.status.value,
        "reasons": [r.value for r in e.reasons],
        "entitledFen": e.entitled_fen,
        "stage": e.stage,
        "fundingChannels": list(e.funding_channels),
        "clause": e.clause,
        "trace": [
            {"key": t.key, "labelZh": t.label_zh, "labelEn": t.label_en, "value": t.value}
            for t in e.trace
        ],
    }


SourceOption = Annotated[
    str,
    typer.Option("--source", help="Feed name for CSV/XLSX rows: their `source` and the prefix of "
                 "their eventId (JSONL events carry their own), as `subsidy ingest` takes it."),
]  # fmt: skip


@app.command("evaluate")
def evaluate_command(
    events: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Events, one JSON object per line; or a .csv or .xlsx feed.",
        ),
    ],
    policy_overlay: OverlayOption = None,
    source: SourceOption = DEFAULT_SOURCE,
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """Print each event's entitlements with their traces (a dry run: no ledger, no Kafka).

    Reads what `subsidy ingest` reads: JSONL events, or the provincial certification list as
    CSV or XLSX. Rows that break the contract are listed with the field (or column) at fault;
    the exit status is then 1, or 2 when the file cannot be read at all.
    """
    catalog = load_catalog_or_exit(policy_overlay)
    evaluations: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    try:
        rows = read_feed(events, check_source(source)) if is_tabular(events) else read_jsonl(events)
        for row in rows:
            if row.event is None:
                rejected.append({
                    "line": row.row,
                    "eventId": row.event_id,
                    "error": "; ".join(str(e) for e in row.errors),
                    "fieldErrors": [{"field": e.field, "message": e.message} for e in row.errors],
                })  # fmt: skip
                continue
            event = row.event
            result = evaluate(event, catalog)
            evaluations.append({
                "line": row.row,
                "eventId": event.event_id,
                "enterpriseId": event.enterprise_id,
                "payloadType": event.payload_type,
                # A correction is evaluated like any event; the ledger replaces the earlier one.
                **({"revision": event.revision} if event.revision else {}),
                "entitlements": [_entitlement_view(e) for e in result.entitlements],
            })  # fmt: skip
    except (FeedError, ValueError) as err:  # the whole file, or an unfit --source
        typer.echo(f"error: {events}: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if output_format is OutputFormat.json:
        out.write_json({"catalogVersion": catalog.version, "evaluations": evaluations,
                        "rejectedEvents": rejected})  # fmt: skip
    elif output_format is OutputFormat.csv:
        evaluate_report.write_csv(evaluations, rejected)
    else:
        evaluate_report.print_report(evaluations, rejected, lang)
    if rejected:
        raise typer.Exit(1)


def _settings() -> EligibilitySettings:
    """Settings from the environment; a bad value is reported by name and exits 2."""
    return load_settings(EligibilitySettings)


@app.command("worker")
def worker_command(policy_overlay: OverlayOption = None) -> None:
    """Run the faust worker: enterprise events in, evaluations out, until SIGTERM.

    Settings come from the environment (ELIGIBILITY_*, KAFKA_BOOTSTRAP); messages that break
    the contract go to the dead-letter topic.
    """
    # Imported here: faust is slow to import, and only this command needs it.
    from subsidy.eligibility import bootstrap, metrics

    settings = _settings()
    require_kafka_login(settings)
    catalog = service_policy(settings, policy_overlay)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.REGISTRY)
    tune_gc()
    bootstrap.run_worker(settings, catalog)


@app.command("serve")
def serve_command(
    policy_overlay: OverlayOption = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", help="host:port (default: ELIGIBILITY_GRPC_ADDRESS or 127.0.0.1:50061)."
        ),
    ] = None,
) -> None:
    """Serve the gRPC dry run (EligibilityService.Evaluate, health, reflection) until SIGTERM,
    over TLS (GRPC_TLS_CERT, GRPC_TLS_KEY; GRPC_PLAINTEXT=true for none)."""
    from subsidy.eligibility.bootstrap import dry_run_server
    from subsidy.infra.grpc_cli import server_transport_or_exit
    from subsidy.infra.lifecycle import wait_until_signalled

    settings = _settings()
    if address is not None:
        try:
            settings = settings.model_validate({**settings.model_dump(), "grpc_address": address})
        except ValidationError as err:
            typer.echo(f"error: --address: {err.errors()[0]['msg']}", err=True)
            raise typer.Exit(2) from None
    transport = server_transport_or_exit(settings)
    catalog = service_policy(settings, policy_overlay)
    # The dry run counts nothing of its own: its process's metrics only, not the worker's.
    start_metrics_server(settings.metrics_port, settings.metrics_address)
    asyncio.run(wait_until_signalled(dry_run_server(settings.grpc_address, catalog, transport)))
