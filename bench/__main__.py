"""`python -m bench [domain|…]`: run the benchmarks, print a table, save bench/results/<ts>.json."""

import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import domain

RESULTS = Path(__file__).resolve().parent / "results"
SUITES = {"domain": domain.run}


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
            table.add_row(name, key, f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
