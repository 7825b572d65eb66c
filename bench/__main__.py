"""`python -m bench [domain|pipeline]`: run them, print a table, save bench/results/<ts>.json."""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import domain, pipeline

RESULTS = Path(__file__).resolve().parent / "results"
SUITES: dict[str, Callable[[], dict[str, Any]]] = {"domain": domain.run, "pipeline": pipeline.run}


def main(names: list[str]) -> None:
    chosen = names or list(SUITES)
    results = {}
    for name in chosen:
        results[name] = SUITES[name]()
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    table = Table("suite", "measure", "value")
    for name, figures in results.items():
        for key, value in figures.items():
            shown = "yes" if value is True else "no" if value is False else value
            table.add_row(name, key, f"{shown:,}" if isinstance(shown, int) else str(shown))
    Console().print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
