"""Helpers shared by the CLI's subcommands."""

from pathlib import Path

import typer

from subsidy.domain.catalog import Catalog, CatalogError, load_catalog


def load_catalog_or_exit(overlay: Path | None = None) -> Catalog:
    """The packaged catalog with an optional overlay; a clear message and exit 2 if invalid."""
    try:
        return load_catalog(overlay=overlay)
    except CatalogError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
