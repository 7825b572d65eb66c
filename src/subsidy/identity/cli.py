"""`subsidy identity …`: people's credentials and the portal's session signing key."""

# Credentials: issue, rotate, revoke, list; the key: keygen.

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import typer

from subsidy.identity import store
from subsidy.identity.principal import Role
from subsidy.identity.sessions import key_pair_pem
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import FormatOption, Lang, LangOption, OutputFormat, iso
from subsidy.infra.commands import EXIT_USAGE, database_command, load_settings
from subsidy.infra.postgres import connect
from subsidy.infra.settings import CommonSettings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

T = TypeVar("T")

ActorOption = Annotated[
    str, typer.Option("--actor", help="who runs this (a person's name), kept in the audit")
]


def _run(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`work` on a connection as DATABASE_URL's role (a member of subsidy_identity_admin);
    a refused request is one line naming its field, exit 2."""
    settings = load_settings(CommonSettings)

    async def go() -> T:
        conn = await connect(settings.database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except store.IdentityError as err:
        typer.echo(f"错误 error: {err.field}: {err.message}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _show(issued: store.Issued) -> None:
    typer.echo(f"凭证 credential: {issued.credential_id}")
    typer.echo(f"密钥 secret (仅显示这一次 shown this once): {issued.secret}")


@app.command("keygen")
def keygen_command() -> None:
    """Print a new Ed25519 key pair for sessions: the private key (PEM) for the portal's
    PORTAL_SESSION_PRIVATE_KEY, then its public key (PEM) for the services'
    SESSION_PUBLIC_KEY."""
    private, public = key_pair_pem()
    typer.echo("# 私钥 private key: PORTAL_SESSION_PRIVATE_KEY (门户 the portal only)", err=True)
    typer.echo(private, nl=False)
    typer.echo("# 公钥 public key: SESSION_PUBLIC_KEY (各服务 every service)", err=True)
    typer.echo(public, nl=False)


@app.command("issue")
@database_command(migrated_by="subsidy db migrate")
def issue_command(
    name: Annotated[str, typer.Argument(help="the principal's name, e.g. reviewer-wang")],
    role: Annotated[Role, typer.Option("--role", help="the principal's role")],
    actor: ActorOption,
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="统一社会信用代码 (enterprise role)")
    ] = None,
    bureau: Annotated[
        str | None, typer.Option("--bureau", help="a responsible unit (reviewer, approver)")
    ] = None,
    ttl_days: Annotated[int, typer.Option("--ttl-days", min=1, max=store.MAX_TTL_DAYS)] = 90,
) -> None:
    """Issue a credential (the principal is created with its first); the secret is printed
    once and only its SHA-256 is kept."""
    issued = _run(
        lambda c: store.issue(
            c,
            name,
            role.value,
            enterprise_id=enterprise,
            bureau=bureau,
            actor=actor,
            ttl_days=ttl_days,
        )
    )
    _show(issued)


@app.command("rotate")
@database_command(migrated_by="subsidy db migrate")
def rotate_command(
    name: Annotated[str, typer.Argument(help="the principal")],
    actor: ActorOption,
    grace_hours: Annotated[
        int, typer.Option("--grace-hours", min=0, max=720, help="old credentials stay valid")
    ] = 0,
) -> None:
    """Issue a new credential and revoke the principal's others, at once or after the grace."""
    _show(_run(lambda c: store.rotate(c, name, actor, grace_hours)))


@app.command("revoke")
@database_command(migrated_by="subsidy db migrate")
def revoke_command(
    target: Annotated[str, typer.Argument(help="a credential id (cred_…) or a principal")],
    reason: Annotated[str, typer.Option("--reason", help="why, kept with the revocation")],
    actor: ActorOption,
) -> None:
    """Revoke a credential, or every credential of a principal, now: its sessions end within
    seconds (docs/security.md)."""
    revoked = _run(lambda c: store.revoke(c, target, actor, reason))
    if not revoked:
        typer.echo("无可吊销 nothing left to revoke: already revoked")
        raise typer.Exit(1)
    for credential_id in revoked:
        typer.echo(f"已吊销 revoked: {credential_id}")


@app.command("list")
@database_command(migrated_by="subsidy db migrate")
def list_command(output: FormatOption = OutputFormat.table, lang: LangOption = Lang.zh) -> None:
    """Every credential, its principal and state (times in Beijing time); never a secret."""
    rows = _run(store.list_credentials)
    if out.write_records([_json_row(r) for r in rows], output):
        return
    headers = tuple(out.pick(lang, zh, en) for zh, en in _HEADERS)
    table = [headers] + [_table_row(r, lang) for r in rows]
    widths = [max(_width(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        cells = (cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


def _width(text: str) -> int:
    """Columns a terminal gives the text: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


_HEADERS = (("凭证", "credential"), ("主体", "principal"), ("角色", "role"),
            ("企业/局", "enterprise/bureau"), ("签发", "issued"), ("到期", "expires"),
            ("吊销", "revoked"), ("状态", "state"))  # fmt: skip


def _table_row(r: store.CredentialInfo, lang: Lang) -> tuple[str, ...]:
    return (
        r.credential_id,
        r.principal,
        out.word(out.ROLES, r.role, lang),
        r.enterprise_id or r.bureau or "",
        out.beijing(r.issued_at),
        out.beijing(r.expires_at),
        f"{out.beijing(r.revoked_at)} {r.revoked_reason}" if r.revoked_at else "",
        out.word(out.CREDENTIAL_STATES, r.state, lang),
    )


def _json_row(r: store.CredentialInfo) -> dict[str, object]:
    return {
        "credentialId": r.credential_id, "principal": r.principal, "role": r.role,
        "enterpriseId": r.enterprise_id, "bureau": r.bureau, "issuedAt": iso(r.issued_at),
        "expiresAt": iso(r.expires_at), "revokedAt": iso(r.revoked_at),
        "revokedReason": r.revoked_reason, "state": r.state,
    }  # fmt: skip
