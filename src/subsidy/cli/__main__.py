"""`python -m subsidy.cli …`: the same command as the `subsidy` console script."""

from subsidy.cli.main import app

app()
