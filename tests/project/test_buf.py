"""buf lint and buf breaking keep proto/ (the contract) clean and compatible (the pinned buf)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.go_tools import SCRIPT, tool_bin

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
EVENTS = Path("subsidy/events/v1/events.proto")
PORTAL = Path("subsidy/api/v1/portal.proto")
DECISIONS = Path("subsidy/decisions/v1/decisions.proto")


@pytest.fixture(scope="module")
def buf() -> Path:
    """The buf scripts/go_tools.sh builds; missing is a failure, never a skip."""
    path = tool_bin() / "buf"
    assert os.access(path, os.X_OK), (
        f"no buf in {path.parent}: run scripts/go_tools.sh (builds the pinned buf "
        "from the Go module proxy; needs Go 1.26.7+)"
    )
    return path


def run_buf(buf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf), *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )


def findings(done: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    """buf's --error-format=json: one JSON object a line, each with the rule in `type`."""
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def copy_of_proto(tmp_path: Path) -> Path:
    copy = tmp_path / "proto"
    shutil.copytree(PROTO, copy)
    return copy


def edit(file: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence, so a .proto that moved on fails here, not silently."""
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file}: expected {old!r} once"
    file.write_text(text.replace(old, new), encoding="utf-8")


def test_buf_is_the_pinned_version(buf: Path) -> None:
    pinned = re.search(r"^BUF_VERSION=v(\S+)", SCRIPT.read_text(encoding="utf-8"), re.M)
    assert pinned, "scripts/go_tools.sh pins no BUF_VERSION"
    done = run_buf(buf, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == pinned.group(1)


def test_lint_passes(buf: Path) -> None:
    done = run_buf(buf, "lint", "proto")
    assert done.returncode == 0, f"buf lint proto:\n{done.stdout}{done.stderr}"
    assert done.stdout == ""


def test_lint_reports_a_nonstandard_rpc_outside_the_excepted_file(
    buf: Path, tmp_path: Path
) -> None:
    # buf.yaml lets api.proto's two old RPCs keep their names; a new file's RPC may not.
    copy = copy_of_proto(tmp_path)
    edit(
        copy / PORTAL,
        "  rpc WhoAmI(WhoAmIRequest) returns (WhoAmIResponse);\n",
        "  rpc WhoAmI(WhoAmIRequest) returns (WhoAmIResponse);\n"
        "  rpc Renew(WhoAmIRequest) returns (WhoAmIResponse);\n",
    )
    done = run_buf(buf, "lint", str(copy), "--error-format=json")
    assert done.returncode != 0, done.stdout + done.stderr
    rules = {f["type"] for f in findings(done)}
    assert {"RPC_REQUEST_STANDARD_NAME", "RPC_RESPONSE_STANDARD_NAME"} <= rules, done.stdout
    assert {Path(f["path"]).name for f in findings(done)} == {"portal.proto"}, done.stdout


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )


def release_base() -> tuple[str, str]:
    """What the contract must stay compatible with: the last release tag (`v*`), so a change
    is checked against what was shipped, however many commits ago; in a clone without tags
    (`git clone --no-tags`, or a CI checkout that fetched none) the previous commit instead,
    the most that can be checked there. Returns (commit, what it is, for messages)."""
    tag = git("describe", "--tags", "--abbrev=0", "--match", "v*")
    if tag.returncode == 0:
        name = tag.stdout.strip()
        commit = git("rev-parse", "--verify", f"{name}^{{commit}}")
        assert commit.returncode == 0, commit.stderr
        return commit.stdout.strip(), f"the last release tag {name}"
    # A full clone has the history (`git clone --depth 1` would not, and fails here).
    parent = git("rev-parse", "--verify", "HEAD~1^{commit}")
    assert parent.returncode == 0, (
        f"no release tag and no HEAD~1 (a shallow clone?): {parent.stderr}"
    )
    return parent.stdout.strip(), "HEAD~1 (this clone has no v* release tag)"


def test_no_breaking_change_against_the_last_release(buf: Path) -> None:
    commit, what = release_base()
    against = f".git#ref={commit},subdir=proto"
    done = run_buf(buf, "breaking", "proto", "--against", against)
    assert done.returncode == 0, f"buf breaking against {what}:\n{done.stdout}{done.stderr}"


def test_the_release_base_is_an_ancestor_of_head() -> None:
    # A tag on another branch, or a release tag made later than HEAD, would check against the
    # wrong contract: the base must be in HEAD's history.
    commit, what = release_base()
    done = git("merge-base", "--is-ancestor", commit, "HEAD")
    assert done.returncode == 0, f"{what} ({commit}) is not an ancestor of HEAD"


def test_breaking_reports_a_field_removed_since_the_release(buf: Path, tmp_path: Path) -> None:
    # The release check compares with the released contract, not with a copy of itself:
    # Decision.decided_at (field 22, in every release so far) removed without `reserved` is
    # reported against that base.
    commit, what = release_base()
    copy = copy_of_proto(tmp_path)
    edit(
        copy / DECISIONS,
        "  string decided_at = 22 [deprecated = true]; // RFC 3339\n",
        "",
    )
    against = f"{ROOT}/.git#ref={commit},subdir=proto"
    done = run_buf(buf, "breaking", str(copy), "--against", against, "--error-format=json")
    assert done.returncode != 0, f"against {what}: {done.stdout}{done.stderr}"
    assert any('"decided_at"' in f["message"] for f in findings(done)), done.stdout


def test_breaking_reports_a_changed_field_number(buf: Path, tmp_path: Path) -> None:
    copy = copy_of_proto(tmp_path)
    edit(copy / EVENTS, "  int64 amount_fen = 2; //", "  int64 amount_fen = 9; //")
    done = run_buf(buf, "breaking", str(copy), "--against", "proto", "--error-format=json")
    assert done.returncode != 0, done.stdout + done.stderr
    found = findings(done)
    assert {f["type"] for f in found} >= {"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"}, done.stdout
    assert all('"amount_fen" on message "ComputeInvoiceFiled"' in f["message"] for f in found), (
        done.stdout
    )


def test_breaking_reports_a_deleted_rpc(buf: Path, tmp_path: Path) -> None:
    # Not a change of encoding, so not in WIRE_JSON: buf.yaml adds RPC_NO_DELETE for it.
    copy = copy_of_proto(tmp_path)
    edit(copy / PORTAL, "  rpc WhoAmI(WhoAmIRequest) returns (WhoAmIResponse);\n", "")
    done = run_buf(buf, "breaking", str(copy), "--against", "proto", "--error-format=json")
    assert done.returncode != 0, done.stdout + done.stderr
    assert [f["type"] for f in findings(done)] == ["RPC_NO_DELETE"], done.stdout


def test_breaking_allows_a_new_field(buf: Path, tmp_path: Path) -> None:
    # The check is not just "anything changed": adding field 5 keeps the contract.
    copy = copy_of_proto(tmp_path)
    edit(
        copy / EVENTS,
        "  optional int32 application_scenarios = 4;",
        "  optional string currency = 5;\n  optional int32 application_scenarios = 4;",
    )
    done = run_buf(buf, "breaking", str(copy), "--against", "proto")
    assert done.returncode == 0, done.stdout + done.stderr
