"""`subsidy dev up` writes .run/stack.env."""

# Where the stack is, and the local ledger key pair (made once, never replaced) the relay signs with
# and the notifier checks.

import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from subsidy.devstack import endpoints
from subsidy.devstack.paths import Layout
from subsidy.devstack.paths import layout as checkout_layout
from subsidy.devstack.stack import write_stack_env
from subsidy.infra.signing_keys import Signer, Verifier


def _env(layout: Layout) -> dict[str, str]:
    lines = layout.stack_env.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if not line.startswith("#")]
    return {name: "".join(shlex.split(value)) for name, value in pairs}  # shell-quoted values


def test_stack_env_names_a_local_key_pair_that_stays(tmp_path: Path) -> None:
    layout = Layout(tmp_path, run_dir=tmp_path / "run")
    write_stack_env(layout)
    env = _env(layout)
    private = Path(env["LEDGER_SIGNING_KEY_FILE"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key_id = Signer.from_file(private).key_id
    assert Verifier.from_file(Path(env["NOTIFIER_LEDGER_PUBLIC_KEY_FILE"])).key_id == key_id
    assert env["LEDGER_ANCHOR_FILE"] == str(tmp_path / "run" / "ledger-anchors.jsonl")
    write_stack_env(layout)
    assert Signer.from_file(Path(_env(layout)["LEDGER_SIGNING_KEY_FILE"])).key_id == key_id


def test_a_shell_reads_the_database_urls_whole_with_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`. .run/stack.env`: the URLs' `&` (sslmode, sslrootcert) must not end the assignment."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    layout = Layout(tmp_path, run_dir=tmp_path / "run")
    write_stack_env(layout)
    script = '. "$1" && printf "%s\\n" "$DATABASE_URL" "$DATABASE_URL_LEDGER_WORKER"'
    shell = subprocess.run(
        ["bash", "-c", script, "-", str(layout.stack_env)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    owner, worker = shell.stdout.splitlines()
    assert owner == endpoints.database_url() == _env(layout)["DATABASE_URL"]
    tls = f"?sslmode=verify-full&sslrootcert={checkout_layout().tls_dir}/ca.pem"
    assert owner.endswith(tls)
    assert worker.endswith(tls)
    assert worker.startswith("postgresql://ledger_worker:")
