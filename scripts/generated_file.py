"""The command line every file generator here shares: write the file, or `--check` it."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def write_or_check(
    script: str,
    description: str,
    target: Path,
    root: Path,
    render: Callable[[], str],
    argv: list[str] | None,
) -> int:
    """Write render()'s text to target, or with --check exit 1 (naming the script to run) if
    the committed file differs from it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is not up to date"
    )
    args = parser.parse_args(argv)
    text = render()
    shown = target.relative_to(root)
    if args.check:
        if not target.exists() or target.read_text("utf-8") != text:
            print(f"{shown} is out of date: run scripts/{script}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, "utf-8", newline="\n")
    print(f"wrote {shown}")
    return 0
