"""Root of the `subsidy` command; subcommands are registered here."""

import typer

app = typer.Typer(help="Suzhou embodied-AI robot subsidy platform.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the platform version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("suzhou-subsidy"))
