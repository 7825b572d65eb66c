"""The generated docs can't drift from what they describe: regenerating them changes nothing."""

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts/gen_docs.py"


def _generator() -> ModuleType:
    return load_script("gen_docs")


def test_generated_docs_match_their_sources(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    templates = sorted(
        p.name.removesuffix(".tmpl") for p in (ROOT / "docs/templates").glob("*.tmpl")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == templates
    for name in templates:
        fresh = (tmp_path / name).read_text("utf-8")
        assert fresh == (ROOT / "docs" / name).read_text("utf-8"), f"docs/{name}: run `make docs`"


def test_a_template_must_use_every_value_and_nothing_else() -> None:
    fill = _generator().fill
    assert fill("t", "a {{x}} b", {"x": "1"}) == "a 1 b"
    with pytest.raises(SystemExit, match=r"nothing fills \['y'\]"):
        fill("t", "{{x}} {{y}}", {"x": "1"})
    with pytest.raises(SystemExit, match=r"does not use \['award_new'\]"):
        fill("t", "{{x}}", {"x": "1", "award_new": "m99.x"})
