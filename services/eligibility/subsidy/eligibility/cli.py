"""`subsidy eligibility …`: dry-run evaluation of events, and the eligibility worker and server."""

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from subsidy.domain.entitlements import Entitlement
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import LEDGER_PAYLOADS, InvalidEvent, parse_event_json
from subsidy.domain.money import format_fen
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.infra.commands import (
    load_catalog_or_exit,
    load_settings,
    require_kafka_login,
    service_policy,
)
from subsidy.infra.gc_tuning import tune_gc
from subsidy.infra.metrics import start_metrics_server

app = typer.Typer(no_args_is_help=True)

OverlayOption = Annotated[
    Path | None,
    typer.Option("--policy-overlay", exists=True, dir_okay=False,
                 help="YAML that changes the catalog (docs/contract.md §3)."),
]  # fmt: skip


class Format(StrEnum):
    """Output formats of `evaluate`."""

    json = "json"
    text = "text"


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


@app.command("evaluate")
def evaluate_command(
    events: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Events, one JSON object per line.")
    ],
    policy_overlay: OverlayOption = None,
    output_format: Annotated[Format, typer.Option("--format")] = Format.json,
) -> None:
    """Print each event's entitlements with their traces (a dry run: no ledger, no Kafka).

    Lines that break the contract are listed with the field at fault; the exit status is then 1.
    """
    catalog = load_catalog_or_exit(policy_overlay)
    evaluations: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    with events.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = parse_event_json(line)
            except InvalidEvent as err:
                rejected.append({
                    "line": number,
                    "eventId": err.event_id,
                    "error": str(err),
                    "fieldErrors": [{"field": e.field, "message": e.message} for e in err.errors],
                })  # fmt: skip
                continue
            result = evaluate(event, catalog)
            evaluations.append({
                "line": number,
                "eventId": event.event_id,
                "enterpriseId": event.enterprise_id,
                "payloadType": event.payload_type,
                # A correction is evaluated like any event; the ledger replaces the earlier one.
                **({"revision": event.revision} if event.revision else {}),
                "entitlements": [_entitlement_view(e) for e in result.entitlements],
            })  # fmt: skip
    if output_format is Format.json:
        document = {"catalogVersion": catalog.version, "evaluations": evaluations,
                    "rejectedEvents": rejected}  # fmt: skip
        json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        _print_text(evaluations, rejected)
    if rejected:
        raise typer.Exit(1)


# Ledger payloads the ledger only records (payee accounts, objections): they change nothing.
_RECORDED = frozenset({"payeeAccountRegistered", "objectionFiled"})
# An appeal and its decision: the ledger's, not a rule's (docs/rules.md step 10).
_APPEALS = frozenset({"appealFiled", "appealDecided"})


def _print_text(evaluations: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
    # Rejections go where the evaluations go, in line order, so the report reads top to bottom.
    rows = [(e["line"], e) for e in evaluations] + [(r["line"], r) for r in rejected]
    for _, row in sorted(rows, key=lambda r: r[0]):
        if "fieldErrors" in row:
            typer.echo(f"line {row['line']}: REJECTED event {row['eventId'] or '?'}")
            for e in row["fieldErrors"]:
                typer.echo(f"  {e['field']}: {e['message']}")
            continue
        found = row["entitlements"]
        revision = (
            f", 更正第{row['revision']}版 / revision {row['revision']}" if "revision" in row else ""
        )
        typer.echo(f"line {row['line']}: event {row['eventId']} ({row['payloadType']}, "
                   f"{row['enterpriseId']}{revision}): {len(found)} entitlement(s)")  # fmt: skip
        if not found and row["payloadType"] in _RECORDED:
            typer.echo("  (recorded by the ledger for the payouts; changes no entitlement)")
        elif row["payloadType"] in _APPEALS:
            typer.echo("  (复核申请 / an appeal: the ledger records and decides it; no rule runs)")
        elif row["payloadType"] == "eventRetracted":
            typer.echo(
                "  (撤回此前事件 / withdraws an earlier event: the ledger decides as if it"
                " was never sent)"
            )
        elif not found and row["payloadType"] in LEDGER_PAYLOADS:
            typer.echo("  (changes existing entitlements in the ledger; creates none)")
        for e in found:
            typer.echo(f"  {e['entitlementId']}  {e['status']}  {format_fen(e['entitledFen'])}"
                       + (f"  [{', '.join(e['reasons'])}]" if e["reasons"] else ""))  # fmt: skip
            for t in e["trace"]:
                typer.echo(f"    {t['labelZh']} / {t['labelEn']}: {t['value']}")
    typer.echo(f"{len(evaluations)} event(s) evaluated, {len(rejected)} rejected")


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
