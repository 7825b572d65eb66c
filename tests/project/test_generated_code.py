"""The generated protobuf code can't drift from proto/: regenerating it changes nothing."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ["subsidy/events/v1", "subsidy/decisions/v1", "subsidy/api/v1"]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_proto.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for folder in GENERATED:
        fresh = sorted(p.name for p in (tmp_path / folder).iterdir())
        committed = sorted(p.name for p in (ROOT / "src" / folder).iterdir() if p.is_file())
        assert fresh == committed, f"{folder}: run `make proto`"
        _match, mismatch, errors = filecmp.cmpfiles(
            tmp_path / folder, ROOT / "src" / folder, fresh, shallow=False
        )
        assert mismatch == errors == [], f"{folder}: {mismatch + errors} differ; run `make proto`"
