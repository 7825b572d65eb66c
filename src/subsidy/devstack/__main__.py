"""Run the devstack command directly: `python -m subsidy.devstack up|down|status`."""

from subsidy.devstack.cli import app

app(prog_name="subsidy dev")
