"""`subsidy ledger …`: the worker and relay, migrations, export, verify, and the query API."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer

from subsidy.api.v1 import api_pb2
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Column, FormatOption, Lang, LangOption, OutputFormat
from subsidy.infra.commands import (
    EXIT_USAGE,
    database_command,
    load_settings,
    require_kafka_login,
    role_checked,
    service_policy,
)
from subsidy.infra.export_format import print_contract
from subsidy.infra.gc_tuning import tune_gc
from subsidy.infra.grpc_cli import (
    CacertOption,
    CertOption,
    KeyOption,
    PlaintextOption,
    client_transport_or_exit,
)
from subsidy.infra.lifecycle import run_until_signalled, wait_until_signalled
from subsidy.infra.metrics import start_metrics_server
from subsidy.infra.postgres import connect
from subsidy.infra.signing_keys import KeyFileError, Verifier, write_key_pair
from subsidy.ledger import bootstrap, cli_api, extra_checks, metrics, parking
from subsidy.ledger.anchoring import Anchorer, AnchorLog
from subsidy.ledger.anchors import AnchorContradiction, AnchorError, load_signed_anchors
from subsidy.ledger.api_client import TokenOption
from subsidy.ledger.api_settings import LedgerApiSettings
from subsidy.ledger.audit import check_invariants
from subsidy.ledger.chain import VerifyResult, verify_chains
from subsidy.ledger.db import migrate_ledger
from subsidy.ledger.export import export_contract
from subsidy.ledger.settings import LedgerSettings

app = typer.Typer(no_args_is_help=True)


T = TypeVar("T")
MIGRATED_BY = "subsidy ledger migrate"


def _settings() -> LedgerSettings:
    return load_settings(LedgerSettings)


async def _with_conn(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


@app.command("migrate")
@database_command(MIGRATED_BY)
def migrate_command() -> None:
    """Apply the ledger's pending schema migrations."""
    settings = _settings()

    async def work(conn: asyncpg.Connection) -> list[str]:
        # The server's warnings (e.g. the auditor role could not be created) reach the operator.
        conn.add_log_listener(lambda _, msg: typer.echo(f"{msg.severity}: {msg.message}", err=True))
        applied = await migrate_ledger(conn)
        await asyncio.sleep(0)  # let the listener callbacks run before the connection closes
        return applied

    applied = asyncio.run(_with_conn(settings.database_url, work))
    typer.echo("\n".join(applied) if applied else "ledger schema up to date")


@app.command("export")
@database_command(MIGRATED_BY)
def export_command(
    output_format: FormatOption = OutputFormat.table, lang: LangOption = Lang.zh
) -> None:
    """The pipeline's entitlements and rejected events, in `subsidy simulate`'s shape."""
    settings = _settings()
    result = asyncio.run(_with_conn(settings.database_url, export_contract))
    print_contract(result, output_format, lang)


def _vouched(
    anchors: Path | None, public_key: list[Path] | None
) -> dict[str, dict[int, str]] | None:
    """The entry hashes the anchor file vouches for, every signature checked; exit 1 on a
    forged or malformed anchor, 2 on unusable options."""
    if anchors is None and not public_key:
        return None
    if anchors is None or not public_key:
        typer.echo("error: --anchors and --public-key go together", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        return load_signed_anchors(anchors, [Verifier.from_file(key) for key in public_key])
    except (KeyFileError, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except AnchorContradiction as err:
        # Both lines are the ledger's own signatures: the log is sound, the ledger is not.
        typer.echo(
            f"两个签名锚点对 {err.chain}#{err.seq} 给出不同的哈希：该记录在两次锚定之间被改写"
            f"（或签名密钥落入他人之手）(two signed anchors disagree about {err.chain}#{err.seq}:"
            f" it was rewritten between the two anchorings, or someone else held a signing key):"
            f" {anchors} line {err.line_no}",
            err=True,
        )
        raise typer.Exit(1) from None
    except AnchorError as err:
        typer.echo(f"锚点无效，拒绝采信 (anchor refused): {anchors} {err}", err=True)
        raise typer.Exit(1) from None


async def _anchor_now(settings: LedgerSettings, conn: asyncpg.Connection) -> int:
    """Anchor the heads verify just checked, when this ledger holds the signing key."""
    if settings.signing_key_file is None or settings.anchor_file is None:
        return 0
    from subsidy.infra import topics

    require_kafka_login(settings)
    producer = bootstrap.idempotent_producer(settings)
    await producer.start()
    try:
        kinds = {settings.anchor_topic: topics.LEDGER_ANCHORS.name}
        writer = bootstrap.record_writer(settings, producer, kinds)
        log = AnchorLog(settings.anchor_file, writer, settings.anchor_topic)
        return await Anchorer(settings.signer(), log).anchor(conn)
    finally:
        await producer.stop()


AnchorsOption = Annotated[
    Path | None,
    typer.Option(
        "--anchors", help="The anchor log (JSON lines): also check the chains against it."
    ),
]
PublicKeyOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="The ledger's Ed25519 public key (PEM) the anchors are signed by; again for each"
        " key the log holds anchors of (after a key rotation).",
    ),
]
VerifyServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        show_default=False,
        help="Verify through the ledger API at host:port (an auditor's token, no database).",
    ),
]


@app.command("verify")
def verify_command(
    anchors: AnchorsOption = None,
    public_key: PublicKeyOption = None,
    server: VerifyServerOption = None,
    token: TokenOption = None,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
    lang: LangOption = Lang.zh,
) -> None:
    """Recompute every hash chain and check the invariants; exit 1 naming the first broken entry.

    With --anchors and --public-key (an auditor, on a read-only login): every anchor's signature
    is checked and every anchored entry must still hash to what the ledger signed. Without
    them, and with LEDGER_SIGNING_KEY_FILE and LEDGER_ANCHOR_FILE set, the verified heads are
    anchored. With --server (an auditor holding a token only): the ledger API recomputes the
    journal's chains (VerifyChain) and says which entry broke first."""
    if server is None:
        _verify_locally(anchors, public_key, lang)
        return
    if anchors is not None or public_key:
        typer.echo("error: --anchors and --public-key need the database: not with --server",
                   err=True)  # fmt: skip
        raise typer.Exit(EXIT_USAGE)
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    chain = cli_api.verify_on_server(server, token, transport)
    if not chain.ok:
        _report_broken(chain, lang)
        raise typer.Exit(1)
    n = chain.entries_checked
    typer.echo(out.pick(lang, f"ok: 校验通过，账本服务 {server} 核验了 {n} 条分录",
                        f"ok: {n} entries verified by the ledger API at {server}"))  # fmt: skip


def _report_broken(chain: VerifyResult | api_pb2.VerifyChainResponse, lang: Lang) -> None:
    """The first broken entry, on stderr (the operator's grep finds both languages' words)."""
    typer.echo(
        f"账本校验失败，第一条不同的分录 {chain.first_broken_entry} / "
        f"chain broken at entry {chain.first_broken_entry}: {chain.detail} "
        + out.pick(lang, f"（其前 {chain.entries_checked} 条分录已核验）",
                   f"({chain.entries_checked} entries verified before it)"),
        err=True,
    )  # fmt: skip


@database_command(MIGRATED_BY)
def _verify_locally(anchors: Path | None, public_key: list[Path] | None, lang: Lang) -> None:
    """`ledger verify` on the database: chains, invariants, the extra checks, the anchors."""
    vouched = _vouched(anchors, public_key)
    settings = _settings()

    async def work(conn: asyncpg.Connection) -> tuple[VerifyResult, list[str], int]:
        journal = extra_checks.journal_only(vouched)
        chain, violations = await verify_chains(conn, journal), await check_invariants(conn)
        violations += await extra_checks.run_all(conn, vouched)
        ok = chain.ok and not violations
        anchored = await _anchor_now(settings, conn) if ok and vouched is None else 0
        return chain, violations, anchored

    chain, violations, anchored = asyncio.run(_with_conn(settings.database_url, work))
    if not chain.ok:
        _report_broken(chain, lang)
    for violation in violations:
        typer.echo(out.pick(lang, "不变量不成立 invariant violated: ", "invariant violated: ")
                   + violation, err=True)  # fmt: skip
    if not chain.ok or violations:
        raise typer.Exit(1)
    hashes = sum(map(len, vouched.values())) if vouched else 0
    if lang is Lang.en:
        typer.echo(f"ok: {chain.entries_checked} entries verified, invariants hold"
                   + (f", {hashes} anchored hashes match" if vouched else "")
                   + (f"; {anchored} heads anchored" if anchored else ""))  # fmt: skip
        return
    typer.echo(f"ok: 校验通过，{chain.entries_checked} 条分录已核验，不变量成立"
               + (f"，{hashes} 个锚定哈希一致" if vouched else "")
               + (f"；已锚定 {anchored} 个链头" if anchored else ""))  # fmt: skip


@app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the new key pair.")],
) -> None:
    """Make the ledger's Ed25519 signing key pair: ledger-signing.pem (0600, the secret for
    LEDGER_SIGNING_KEY_FILE) and ledger-signing.pub.pem (for auditors and the notifier)."""
    try:
        private, public = write_key_pair(out)
    except FileExistsError as err:
        typer.echo(f"error: {err.filename} exists; a key is never overwritten", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as err:
        typer.echo(f"error: {out}: {err.strerror or err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"私钥 private key: {private} (0600)\n公钥 public key: {public}\n"
               f"key id {Verifier.from_file(public).key_id}")  # fmt: skip


_PARKED_COLUMNS = (
    Column("评审事件", "review", "id"),
    Column("企业", "enterprise", "id"),
    Column("等待事件", "waits for", "id"),
    Column("入库时间", "parked at", "id"),
)


@app.command("parked")
@database_command(MIGRATED_BY)
def parked_command(
    output_format: FormatOption = OutputFormat.table, lang: LangOption = Lang.zh
) -> None:
    """Reviews waiting for the event they refer to (expired after LEDGER_PARK_TTL_DAYS)."""
    settings = _settings()
    reviews = asyncio.run(_with_conn(settings.database_url, parking.waiting))
    rows = [
        {"eventId": r.event_id, "enterpriseId": r.enterprise_id, "eventRef": r.event_ref,
         "parkedAt": out.iso(r.parked_at)}
        for r in reviews
    ]  # fmt: skip
    if out.write_records(rows, output_format):
        return
    table = out.table(_PARKED_COLUMNS, lang)
    for r in reviews:
        table.add_row(r.event_id, r.enterprise_id, r.event_ref, out.beijing(r.parked_at))
    console = out.console()
    out.show(console, table)
    console.print(out.pick(lang, f"共 {len(reviews)} 条等待中的评审", f"{len(reviews)} waiting"))


@app.command("worker")
def worker_command() -> None:
    """Consume entitlements.v1 and decide it into the ledger until SIGTERM."""
    settings = _settings()
    require_kafka_login(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.WORKER_REGISTRY)
    tune_gc()
    catalog = service_policy(settings)
    with role_checked():
        asyncio.run(run_until_signalled(bootstrap.ledger_worker(settings, catalog)))


@app.command("relay")
def relay_command() -> None:
    """Publish committed decisions from the outbox to decisions.v1, signed, and anchor the
    chains' heads every LEDGER_ANCHOR_SECONDS, until SIGTERM (needs LEDGER_SIGNING_KEY_FILE and
    LEDGER_ANCHOR_FILE)."""
    settings = _settings()
    for name, value in (("LEDGER_SIGNING_KEY_FILE", settings.signing_key_file),
                        ("LEDGER_ANCHOR_FILE", settings.anchor_file)):  # fmt: skip
        if value is None:
            typer.echo(f"error: LedgerSettings: {name} is required by the relay", err=True)
            raise typer.Exit(EXIT_USAGE)
    require_kafka_login(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.RELAY_REGISTRY)
    with role_checked():
        asyncio.run(run_until_signalled(bootstrap.ledger_relay(settings)))


# ---- the query API ------------------------------------------------------------------------------


@app.command("serve")
def serve_command() -> None:
    """Serve the read-only query API (LedgerService, health, reflection) until SIGTERM.

    Reads LEDGER_API_DATABASE_URL (required: a read-only role, docs/security.md),
    LEDGER_API_AUDITOR_TOKENS (required, JSON: principal → tokens), LEDGER_API_WRITER_TOKEN_SHA256,
    LEDGER_API_GRPC_ADDRESS (default 127.0.0.1:50081), LEDGER_API_METRICS_PORT, the other
    LEDGER_API_* settings, and GRPC_TLS_CERT and GRPC_TLS_KEY (required unless
    GRPC_PLAINTEXT=true; GRPC_TLS_CLIENT_CA: clients must present a certificate it signed).
    """
    from subsidy.infra.db_roles import DatabaseRoleError
    from subsidy.infra.grpc_cli import server_transport_or_exit

    settings = load_settings(LedgerApiSettings)
    server_transport_or_exit(settings)
    catalog = service_policy(settings)
    start_metrics_server(settings.metrics_port, settings.metrics_address, metrics.API_REGISTRY)
    try:
        asyncio.run(wait_until_signalled(bootstrap.ledger_api(settings, catalog)))
    except DatabaseRoleError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


cli_api.register(app)
