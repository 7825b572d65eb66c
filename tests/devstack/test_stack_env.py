"""`subsidy dev up` writes .run/stack.env: where the stack is, and the local ledger key pair
(made once, never replaced) the relay signs with and the notifier checks."""

import stat
from pathlib import Path

from subsidy.devstack.paths import Layout
from subsidy.devstack.stack import write_stack_env
from subsidy.infra.signing_keys import Signer, Verifier


def _env(layout: Layout) -> dict[str, str]:
    lines = layout.stack_env.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if not line.startswith("#"))


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
