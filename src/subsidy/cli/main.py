"""Root of the `subsidy` command; every service's and tool's command group is registered here."""

import typer

from subsidy.cli import db, simulate
from subsidy.dashboard import cli as dashboard
from subsidy.demo import cli as demo
from subsidy.devstack import cli as dev
from subsidy.eligibility import cli as eligibility
from subsidy.ingest import cli as ingest
from subsidy.ledger import anchoring, extra_checks
from subsidy.ledger import cli as ledger
from subsidy.notifier import cli as notify
from subsidy.payouts import cli as payouts
from subsidy.payouts import cli_desk
from subsidy.payouts import verify as payouts_verify
from subsidy.reform import cli as policy

app = typer.Typer(
    help="Suzhou embodied-AI robot subsidy platform: eligibility, ledger, notifier.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("simulate")(simulate.simulate_command)
app.add_typer(db.app, name="db", help="Migrate the schema, as the database owner.")
app.add_typer(demo.app, name="demo", help="Generate realistic feeds; run the main job.")
app.add_typer(dev.app, name="dev", help="Start, stop and inspect the local Kafka and PostgreSQL.")
app.add_typer(eligibility.app, name="eligibility", help="Evaluate events against the policy.")
app.add_typer(ledger.app, name="ledger", help="Query, export and verify the payout ledger.")
app.add_typer(policy.app, name="policy", help="Policy reforms tried on the platform's history.")
app.add_typer(ingest.app)  # `subsidy ingest FILE`, `subsidy ingest-server`, `subsidy feeds …`
app.add_typer(notify.app, name="notify", help="Tell enterprises and bureaus about decisions.")
app.add_typer(dashboard.app, name="dashboard", help="The live web dashboard over the ledger.")
app.add_typer(payouts.app, name="payouts", help="Payment orders, batches, returns, recovery.")
app.add_typer(cli_desk.budget_app, name="budget", help="Budget envelopes per channel and year.")
app.add_typer(cli_desk.publicity_app, name="publicity", help="公示: the awards on public notice.")
payouts.app.command("write-off")(cli_desk.write_off_command)
# The accounts live with the payouts; the ledger's commands show and verify them too.
ledger.app.command("balances")(payouts.balances_command)
extra_checks.EXTRA_CHECKS.append(
    extra_checks.ExtraCheck(payouts_verify.CHAIN, payouts.verify_check)
)
# The relay anchors the transfers' chain beside the journal's (docs/security.md, Anchors).
anchoring.CHAINS.append(
    anchoring.ChainSource("transfers", payouts_verify.HEADS_SQL, payouts_verify.LINKS_SQL)
)
