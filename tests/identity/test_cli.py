"""`subsidy identity …` on PostgreSQL."""

# Keygen, issue, list (Chinese by default, English with --lang en, Beijing time; JSON keeps the
# codes), rotate, revoke; refusals name the field.

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from subsidy.identity import store
from subsidy.identity.principal import Principal, Role
from subsidy.identity.sessions import (
    issue_session,
    load_private_key,
    load_public_key,
    verify_session,
)
from tests.factories import bad_check, enterprise_id
from tests.identity.conftest import IdentityDb

SUBSIDY = Path(sys.executable).parent / "subsidy"


@dataclass(frozen=True)
class Done:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(db: IdentityDb | None, *args: str) -> Done:
    """The real executable, as the owner of the test's schema."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("SUBSIDY_LANG", None)  # Chinese unless a test asks for English
    if db is not None:
        env["DATABASE_URL"] = db.owner_url
    done = subprocess.run([str(SUBSIDY), "identity", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    return Done(done.returncode, done.stdout, done.stderr)


def secret_of(output: str) -> str:
    return next(line.rsplit(" ", 1)[1] for line in output.splitlines() if "secret" in line)


async def _sign_in(url: str, secret: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return (await store.authenticate(conn, secret)).name
    finally:
        await conn.close()


def test_keygen_prints_a_pair_that_signs_and_verifies() -> None:
    done = run(None, "keygen")
    assert done.exit_code == 0
    private, public = done.stdout.split("-----END PRIVATE KEY-----\n")
    key = load_private_key(private + "-----END PRIVATE KEY-----\n")
    p = Principal("aud-li", Role.AUDITOR, credential_id="cred_0123456789abcdef")
    assert verify_session(issue_session(p, key), load_public_key(public)) == p


def test_issue_list_rotate_revoke(identity_db: IdentityDb) -> None:
    issued = run(identity_db, "issue", "ent-3", "--role", "enterprise", "--enterprise",
                 enterprise_id(3), "--actor", "admin-zhang")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    secret = secret_of(issued.stdout)
    assert secret.startswith("sbp_")
    assert asyncio.run(_sign_in(identity_db.owner_url, secret)) == "ent-3"
    reviewer = run(identity_db, "issue", "reviewer-wang", "--role", "reviewer", "--bureau",
                   "市工信局", "--ttl-days", "30", "--actor", "admin-zhang")  # fmt: skip
    assert reviewer.exit_code == 0, reviewer.output
    table = run(identity_db, "list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["凭证", "主体", "角色", "企业/局", "签发", "到期", "吊销", "状态"]
    assert lines[1].split()[2] == "企业"
    assert enterprise_id(3) in lines[1]
    assert lines[1].split()[-1] == "有效"
    assert "市工信局" in lines[2]
    assert lines[2].split()[2] == "审核人"
    assert secret not in table.stdout
    for code in ("enterprise", "active"):  # the words, not the codes
        assert code not in table.stdout, code
    english = run(identity_db, "list", "--lang", "en")
    assert english.exit_code == 0, english.output
    head, first, second = english.stdout.splitlines()
    assert head.split() == ["credential", "principal", "role", "enterprise/bureau", "issued",
                            "expires", "revoked", "state"]  # fmt: skip
    assert (first.split()[2], first.split()[-1], second.split()[2]) == (
        "enterprise", "active", "reviewer")  # fmt: skip
    assert "+08:00" in first
    assert "有效" not in english.stdout
    as_json = run(identity_db, "list", "--format", "json").stdout
    assert run(identity_db, "list", "--format", "json", "--lang", "en").stdout == as_json
    assert [r["role"] for r in json.loads(as_json)] == ["enterprise", "reviewer"]
    rotated = run(identity_db, "rotate", "ent-3", "--actor", "admin-zhang")
    assert rotated.exit_code == 0
    rows = json.loads(run(identity_db, "list", "--format", "json").stdout)
    assert [r["state"] for r in rows] == ["revoked", "active", "active"]
    assert rows[0]["revokedAt"].endswith("+08:00")
    assert rows[0]["revokedReason"] == "rotated"
    assert rows[0]["issuedAt"].endswith("+08:00")
    listed = run(identity_db, "list", "--format", "csv").stdout.splitlines()
    assert listed[0].startswith("credentialId,principal,role,")
    assert len(listed) == 1 + len(rows)
    assert "+08:00" in table.stdout  # the table's times say they are Beijing time
    revoked = run(identity_db, "revoke", "ent-3", "--reason", "account closed", "--actor", "li")
    assert revoked.exit_code == 0
    assert "已吊销" in revoked.stdout
    again = run(identity_db, "revoke", "ent-3", "--reason", "again", "--actor", "li")
    assert again.exit_code == 1


def test_refusals_name_their_field(identity_db: IdentityDb) -> None:
    for args, field in (
        (["--role", "enterprise", "--enterprise", bad_check(4)], "enterprise"),
        (["--role", "reviewer", "--bureau", "市教委"], "bureau"),
        (["--role", "approver"], "bureau"),
    ):
        done = run(identity_db, "issue", "someone", *args, "--actor", "admin-zhang")
        assert done.exit_code == 2, done.output
        assert f"error: {field}: " in done.stderr
    missing = run(identity_db, "revoke", "cred_0000000000000000", "--reason", "x", "--actor", "y")
    assert missing.exit_code == 2
    assert "credential_id" in missing.stderr
    no_actor = run(identity_db, "issue", "aud-li", "--role", "auditor")
    assert no_actor.exit_code == 2
    assert "--actor" in no_actor.output
