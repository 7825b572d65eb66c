"""Write docs/rules.md and docs/contract.md from their templates, the catalog and proto/."""

#     uv run python scripts/gen_docs.py [OUT_DIR]    # `make docs`; OUT_DIR defaults to docs/
#
# The prose lives in docs/templates/*.md.tmpl; every `{{name}}` in a template is filled from what
# the platform runs on: the catalog (loaded through subsidy.domain.catalog), the protobuf
# descriptors of the generated modules with the comments of their .proto source, the event models,
# the feed reader, the topics, and `subsidy simulate` run on an example. A template may use only the
# names this script fills, and must use all of them, so that nothing new goes unsaid. What fills
# them comes from the modules of scripts/docgen/, one per part of the docs.
# tests/project/test_generated_docs.py runs this into a temporary directory and fails when the
# committed docs differ from what it writes.

import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# Run as `python scripts/gen_docs.py`, Python puts scripts/ on the path, not the repository that
# holds the `scripts.docgen` package this script is made of.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.docgen.common import DOCS, TEMPLATES
from scripts.docgen.contract import contract_values
from scripts.docgen.rules import load, rules_values

PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def fill(name: str, template: str, values: Mapping[str, str]) -> str:
    """The template with every placeholder replaced; SystemExit naming any left over or unused."""
    used = set(PLACEHOLDER.findall(template))
    if missing := sorted(used - values.keys()):
        raise SystemExit(f"{name}: nothing fills {missing}")
    if unused := sorted(values.keys() - used):
        raise SystemExit(f"{name}: the template does not use {unused}")
    return PLACEHOLDER.sub(lambda m: values[m[1]], template)


def generate(out: Path) -> None:
    """Write every generated doc into `out`."""
    raw, catalog = load()
    docs: dict[str, Callable[[], dict[str, str]]] = {
        "rules.md": lambda: rules_values(raw, catalog),
        "contract.md": lambda: contract_values(raw, catalog),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, values in docs.items():
        template = (TEMPLATES / f"{name}.tmpl").read_text("utf-8")
        (out / name).write_text(fill(name, template, values()), "utf-8")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
