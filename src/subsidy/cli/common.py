"""Helpers shared by the CLI's subcommands."""

from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from subsidy.domain.catalog import Catalog, CatalogError, load_catalog
from subsidy.infra.logging import configure_logging
from subsidy.infra.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def load_catalog_or_exit(overlay: Path | None = None, path: Path | None = None) -> Catalog:
    """The catalog (the packaged one by default) with an optional overlay; a clear message and
    exit 2 if invalid."""
    try:
        return load_catalog(path, overlay)
    except CatalogError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def service_policy(settings: CommonSettings, overlay: Path | None = None) -> Catalog:
    """The policy a service runs: POLICY_CATALOG and POLICY_OVERLAY (or an --policy-overlay
    given on its command line instead)."""
    return load_catalog_or_exit(overlay or settings.policy_overlay, settings.policy_catalog)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """A service's settings from the environment (and overrides); each bad value reported by
    name and exit 2 — a service must not start on a guess. Logging is set up from them."""
    try:
        settings = cls(**overrides)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"error: {cls.__name__}: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings
