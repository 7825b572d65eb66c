"""`python -m bench [domain|pipeline|scale]`: run them, print a table, save bench/results/."""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import domain, pipeline, scale

RESULTS = Path(__file__).resolve().parent / "results"
SUITES: dict[str, Callable[[], dict[str, Any]]] = {
    "domain": domain.run,
    "pipeline": pipeline.run,
    "scale": scale.run,
}
# Without names: all but the scale run, whose seeding alone takes about a quarter of an hour
# (`make bench-scale`).
DEFAULT = ("domain", "pipeline")


def main(names: list[str]) -> None:
    chosen = names or list(DEFAULT)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    results: dict[str, Any] = {}
    try:
        for name in chosen:
            results[name] = SUITES[name]()
            # Saved after each suite: a later one failing keeps what was measured.
            path.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    finally:
        table = Table("suite", "measure", "value")
        for name, figures in results.items():
            for key, value in figures.items():
                shown = "yes" if value is True else "no" if value is False else value
                table.add_row(name, key, f"{shown:,}" if isinstance(shown, int) else str(shown))
        Console().print(table)
        Console().print(f"saved in {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
