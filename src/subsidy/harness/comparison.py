"""The pipeline's export against `subsidy simulate`'s: the differences, and the verdict printed."""

import json
from typing import Any

from rich.console import Console


def compare(pipeline: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Differences between the pipeline's export and simulate's output, as lines."""
    if pipeline == expected:
        return []
    got = {e["entitlementId"]: e for e in pipeline["entitlements"]}
    want = {e["entitlementId"]: e for e in expected["entitlements"]}
    lines = [f"only in the pipeline: {k}" for k in sorted(got.keys() - want.keys())]
    lines += [f"only in simulate: {k}" for k in sorted(want.keys() - got.keys())]
    lines += [f"differs: {json.dumps(got[k], ensure_ascii=False)} vs "
              f"{json.dumps(want[k], ensure_ascii=False)}"
              for k in sorted(got.keys() & want.keys()) if got[k] != want[k]]  # fmt: skip
    if pipeline["rejectedEvents"] != expected["rejectedEvents"]:
        lines.append(f"rejected events: pipeline {len(pipeline['rejectedEvents'])}, "
                     f"simulate {len(expected['rejectedEvents'])}")  # fmt: skip
    return lines


def print_comparison(console: Console, differences: list[str], expected: dict[str, Any]) -> None:
    """`compare`'s verdict: "match" with the counts, or the first differences."""
    if differences:
        console.print("[red]pipeline vs subsidy simulate: MISMATCH[/red]")
        for line in differences[:20]:
            console.print("  " + line)
    else:
        console.print(f"pipeline vs subsidy simulate: [green]match[/green] "
                      f"({len(expected['entitlements']):,} entitlements, "
                      f"{len(expected['rejectedEvents']):,} rejected events)")  # fmt: skip
