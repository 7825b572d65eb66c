"""`subsidy demo …`: generate realistic event feeds; run the main job."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from subsidy.demo.generator import generate

app = typer.Typer(no_args_is_help=True)


@app.command("generate")
def generate_command(
    enterprises: Annotated[int, typer.Option(min=1, help="How many enterprises.")] = 400,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write a realistic Suzhou event feed (JSONL), about 1% of it malformed."""
    target = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for line in generate(enterprises, seed):
            target.write(line + "\n")
    finally:
        if out:
            target.close()
