"""`subsidy demo …`: generate realistic event feeds; run the main job."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from subsidy.demo.generator import generate

app = typer.Typer(no_args_is_help=True)

SAMPLE = Path(__file__).resolve().parents[3] / "data/sample-events.jsonl"


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


@app.command("run")
def run_command(
    events: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="The feed (JSONL).")
    ] = SAMPLE,
    keep: Annotated[bool, typer.Option(envvar="KEEP", help="Leave everything running.")] = False,
    policy_overlay: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
) -> None:
    """The main job: start every service, ingest the feed, wait for every decision, verify the
    chain, print the summary, compare with `subsidy simulate`, stop."""  # fmt: skip
    import asyncio

    from rich.console import Console

    from subsidy.demo.job import run_demo
    from subsidy.harness.platform import Run
    from subsidy.infra.commands import load_catalog_or_exit, load_settings
    from subsidy.infra.settings import CommonSettings

    # The policy of POLICY_CATALOG / POLICY_OVERLAY, or --policy-overlay: the services and
    # the comparison with simulate all run it.
    # The job prints its own progress; the services' and clients' logs go to their files.
    settings = load_settings(CommonSettings, log_level="WARNING")
    overlay = policy_overlay or settings.policy_overlay
    catalog = load_catalog_or_exit(overlay, settings.policy_catalog)
    run = Run(policy_catalog=settings.policy_catalog, policy_overlay=overlay)
    if not asyncio.run(run_demo(events, catalog, keep, Console(), run)):
        raise typer.Exit(1)
