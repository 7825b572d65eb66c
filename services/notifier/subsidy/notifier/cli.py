"""`subsidy notify …`: the worker, the admin API, dead deliveries, and subscriptions."""

# The subscriptions' tables are in zh or en.

import asyncio
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Column, Lang, LangOption, OutputFormat, write_records
from subsidy.infra.commands import (
    database_command,
    load_settings,
    require_kafka_login,
    role_checked,
    service_policy,
)
from subsidy.infra.db_roles import MIGRATE_COMMAND, check_role
from subsidy.infra.grpc_cli import server_transport_or_exit
from subsidy.infra.lifecycle import run_until_signalled, wait_until_signalled
from subsidy.infra.metrics import start_metrics_server
from subsidy.infra.postgres import connect
from subsidy.notifier import bootstrap, metrics
from subsidy.notifier import repository as repo
from subsidy.notifier.settings import NotifierSettings
from subsidy.notifier.subscriptions import SubscriptionError, parse_file, subscribable

app = typer.Typer(no_args_is_help=True)
subscriptions_app = typer.Typer(no_args_is_help=True)
app.add_typer(
    subscriptions_app, name="subscriptions", help="Load and list who is told about decisions."
)


def _settings() -> NotifierSettings:
    # Logs go to stderr, so `--format json` on stdout stays machine-readable.
    return load_settings(NotifierSettings)


async def _connect(settings: NotifierSettings) -> asyncpg.Connection:
    conn = await connect(settings.database_url)
    try:
        await check_role(conn, repo.ROLE)
    except BaseException:
        await conn.close()
        raise
    return conn


@app.command("worker")
def worker_command() -> None:
    """Consume decisions and deliver webhooks and mail until SIGTERM or SIGINT; only decisions
    signed by the ledger's key (NOTIFIER_LEDGER_PUBLIC_KEY_FILE, required)."""
    settings = _settings()
    if settings.ledger_public_key_file is None:
        typer.echo("error: NOTIFIER_LEDGER_PUBLIC_KEY_FILE is required by the worker", err=True)
        raise typer.Exit(2)
    require_kafka_login(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.REGISTRY)
    catalog = service_policy(settings)

    with role_checked():
        asyncio.run(run_until_signalled(bootstrap.notifier_worker(settings, catalog)))


@app.command("serve")
def serve_command() -> None:
    """Serve NotifierAdminService (with health and reflection) on NOTIFIER_GRPC_ADDRESS, over
    TLS (GRPC_TLS_CERT, GRPC_TLS_KEY; GRPC_PLAINTEXT=true for none)."""
    settings = _settings()
    if settings.admin_token is None:
        typer.echo("error: NOTIFIER_ADMIN_TOKEN is required to serve the admin API", err=True)
        raise typer.Exit(2)
    server_transport_or_exit(settings)
    # The admin API counts nothing of its own: its process's metrics only, not the worker's.
    start_metrics_server(settings.metrics_port, settings.metrics_address)
    catalog = service_policy(settings)

    with role_checked():
        asyncio.run(wait_until_signalled(bootstrap.admin_server(settings, catalog)))


@app.command("failed")
@database_command(MIGRATE_COMMAND)
def failed_command(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """List dead deliveries (attempts exhausted or refused for good)."""
    settings = _settings()

    async def main() -> list[dict[str, Any]]:
        conn = await _connect(settings)
        try:
            return await repo.dead_deliveries(conn, limit)
        finally:
            await conn.close()

    rows = asyncio.run(main())
    if write_records(rows, output):  # json (instants ISO-8601 with their offset) or csv
        return
    _print_dead(rows, lang)


def _what(code: str, lang: Lang) -> str:
    """A decision's status or a notice's kind, in words."""
    if code in out.NOTICE_KINDS:
        return out.word(out.NOTICE_KINDS, code, lang)
    return out.status(code, lang) if code else ""


_DEAD = (Column("编号", "ID", "id"), Column("决定或通知", "decision or notice", "id"),
         Column("状态", "status"), Column("渠道", "channel"), Column("收件方", "recipient", "id"),
         Column("尝试次数", "attempts"), Column("最后错误", "last error"),
         Column("失败时间", "dead at", "id"))  # fmt: skip


def _print_dead(rows: list[dict[str, Any]], lang: Lang) -> None:
    """The dead deliveries as a table: statuses and channels in words, times in Beijing time."""
    console = out.console()
    if not rows:
        console.print(out.pick(lang, "没有投递失败的通知。", "No dead deliveries."))
        return
    title = out.pick(lang, f"投递失败（{len(rows)}）", f"Dead deliveries ({len(rows)})")
    table = out.table(_DEAD, lang, title)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["decision_id"] or row["notice_id"] or row["appeal_notice_id"],
            _what(row["status"] or "", lang),
            out.word(out.DELIVERY_CHANNELS, row["channel"], lang),
            row["recipient"],
            str(row["attempts"]),
            row["last_error"] or "",
            out.beijing(row["dead_at"]),
        )
    out.show(console, table)
    console.print(out.pick(lang, "重新投递：subsidy notify retry 编号",
                           "Requeue one with: subsidy notify retry ID"))  # fmt: skip


@app.command("retry")
@database_command(MIGRATE_COMMAND)
def retry_command(
    delivery_id: Annotated[int, typer.Argument(help="The ID shown by `subsidy notify failed`.")],
) -> None:
    """Requeue one dead delivery with a fresh set of attempts."""
    settings = _settings()

    async def main() -> bool:
        conn = await _connect(settings)
        try:
            return await repo.requeue(conn, delivery_id)
        finally:
            await conn.close()

    if not asyncio.run(main()):
        typer.echo(f"error: no dead delivery with ID {delivery_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"delivery {delivery_id} requeued")


@subscriptions_app.command("load")
@database_command(MIGRATE_COMMAND)
def load_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Create or replace the subscriptions of a YAML or JSON file (all or none)."""
    settings = _settings()
    catalog = service_policy(settings)
    try:
        subs = parse_file(
            file,
            bureaus=subscribable(catalog),
            has_secret=lambda s: bool(settings.webhook_signing_secrets(s)),
        )
    except SubscriptionError as err:
        typer.echo(f"error: {file}:", err=True)
        for line in err.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None

    async def main() -> None:
        conn = await _connect(settings)
        try:
            await repo.put_subscriptions(conn, subs)
        finally:
            await conn.close()

    asyncio.run(main())
    typer.echo(f"{len(subs)} subscription(s) loaded from {file}")


@subscriptions_app.command("list")
@database_command(MIGRATE_COMMAND)
def list_command(
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    lang: LangOption = Lang.zh,
) -> None:
    """List every subscription."""
    settings = _settings()

    async def main() -> list[dict[str, Any]]:
        conn = await _connect(settings)
        try:
            subs = await repo.list_subscriptions(conn)
        finally:
            await conn.close()
        return [
            {
                "kind": s.kind,
                "subscriber": s.subscriber,
                "webhookUrl": s.webhook_url,
                "email": s.email,
                "language": s.language,
                "webhookSecretConfigured": bool(settings.webhook_signing_secrets(s.subscriber)),
            }
            for s in subs
        ]

    rows = asyncio.run(main())
    if write_records(rows, output):  # json (instants ISO-8601 with their offset) or csv
        return
    _print_subscriptions(rows, lang)


_SUBSCRIPTIONS = (Column("类别", "kind"), Column("订阅方", "subscriber", "id"),
                  Column("回调地址", "webhook", "id"), Column("签名密钥", "secret"),
                  Column("邮箱", "email", "id"), Column("语言", "language"))  # fmt: skip


def _print_subscriptions(rows: list[dict[str, Any]], lang: Lang) -> None:
    """The subscriptions as a table; a webhook without its signing secret says so."""
    table = out.table(_SUBSCRIPTIONS, lang, out.pick(lang, f"订阅（{len(rows)}）",
                                                     f"Subscriptions ({len(rows)})"))  # fmt: skip
    for row in rows:
        secret = out.pick(lang, "已配置", "yes") if row["webhookSecretConfigured"] else (
            out.pick(lang, "缺失", "MISSING"))  # fmt: skip
        table.add_row(
            out.word(out.SUBSCRIBERS, row["kind"], lang),
            row["subscriber"],
            row["webhookUrl"] or "",
            secret if row["webhookUrl"] else "",
            row["email"] or "",
            out.word(out.LANGUAGES, row["language"], lang),
        )
    out.show(out.console(), table)
