"""The root's commands, in the order `subsidy --help` lists them."""

# Each one's help, and how it is imported and registered when it runs (with what other components
# add to it).

from collections.abc import Callable
from functools import cache

import typer

from subsidy.cli.lazy import Lazy, Mount

# Every import of a service or tool is inside a function here: the root imports none of them.


def _group(load: Callable[[], typer.Typer]) -> Mount:
    """A sub-app mounted under its name, with the listed help as its own."""

    def mount(root: typer.Typer, name: str, help: str) -> None:
        root.add_typer(load(), name=name, help=help)

    return mount


def _simulate(root: typer.Typer, name: str, _: str) -> None:
    from subsidy.cli import simulate

    root.command(name)(simulate.simulate_command)  # its help is its docstring


def _ingest(root: typer.Typer, _: str, __: str) -> None:
    from subsidy.ingest import cli as ingest

    root.add_typer(ingest.app)  # `subsidy ingest FILE`, `subsidy ingest-server`, `subsidy feeds …`


def _db() -> typer.Typer:
    from subsidy.cli import db

    return db.app


def _demo() -> typer.Typer:
    from subsidy.demo import cli as demo

    return demo.app


def _dev() -> typer.Typer:
    from subsidy.devstack import cli as dev

    return dev.app


def _eligibility() -> typer.Typer:
    from subsidy.eligibility import cli as eligibility

    return eligibility.app


@cache
def register_transfers_chain() -> None:
    """The payouts' transfers chain, checked by `ledger verify` beside the journal's and
    anchored by `ledger relay` (docs/security.md, Anchors); registered once. It is a single
    chain: the relay reads its head at every anchoring (no `heads_of`), and keeps its position
    in anchor_marks like the journal's chains."""
    from subsidy.ledger import anchoring, extra_checks
    from subsidy.payouts import cli as payouts
    from subsidy.payouts import verify as payouts_verify

    extra_checks.EXTRA_CHECKS.append(
        extra_checks.ExtraCheck(payouts_verify.CHAIN, payouts.verify_check)
    )
    anchoring.CHAINS.append(
        anchoring.ChainSource("transfers", payouts_verify.HEADS_SQL, payouts_verify.LINKS_SQL)
    )


@cache
def _ledger() -> typer.Typer:
    from subsidy.ledger import cli as ledger
    from subsidy.payouts import cli as payouts

    # The accounts live with the payouts; the ledger's commands show and verify them too.
    ledger.app.command("balances")(payouts.balances_command)
    register_transfers_chain()
    return ledger.app


def _policy() -> typer.Typer:
    from subsidy.reform import cli as policy

    return policy.app


def _notify() -> typer.Typer:
    from subsidy.notifier import cli as notify

    return notify.app


def _dashboard() -> typer.Typer:
    from subsidy.dashboard import cli as dashboard

    return dashboard.app


@cache
def _payouts() -> typer.Typer:
    from subsidy.payouts import cli as payouts
    from subsidy.payouts import cli_desk

    payouts.app.command("write-off")(cli_desk.write_off_command)
    return payouts.app


def _budget() -> typer.Typer:
    from subsidy.payouts import cli_desk

    return cli_desk.budget_app


def _portal() -> typer.Typer:
    from subsidy.portal import cli as portal

    return portal.app


def _identity() -> typer.Typer:
    from subsidy.identity import cli as identity

    return identity.app


def _publicity() -> typer.Typer:
    from subsidy.payouts import cli_desk

    return cli_desk.publicity_app


# The helps are the commands' own first paragraphs (tests/cli/test_startup.py compares them).
ROOT: dict[str, Lazy] = {
    "simulate": Lazy(_simulate, "Decide every event in file order with no broker and no "
                     "database (docs/contract.md §2)."),
    "db": Lazy(_group(_db), "Migrate the schema, as the database owner."),
    "demo": Lazy(_group(_demo), "Generate realistic feeds; run the main job."),
    "dev": Lazy(_group(_dev), "Start, stop and inspect the local Kafka and PostgreSQL."),
    "eligibility": Lazy(_group(_eligibility), "Evaluate events against the policy."),
    "ledger": Lazy(_group(_ledger), "Query, export and verify the payout ledger."),
    "policy": Lazy(_group(_policy), "Policy reforms tried on the platform's history."),
    "ingest": Lazy(_ingest, "Send a feed's events to the ingest API (TLS: --cacert); bad rows "
                   "go to FILE.errors.csv."),
    "ingest-server": Lazy(_ingest, "Run the ingest gRPC API (IngestService) until SIGTERM or "
                          "SIGINT."),
    "feeds": Lazy(_ingest, "Watch a directory for feed files and ingest them."),
    "notify": Lazy(_group(_notify), "Tell enterprises and bureaus about decisions."),
    "dashboard": Lazy(_group(_dashboard), "The live web dashboard over the ledger."),
    "payouts": Lazy(_group(_payouts), "Payment orders, batches, returns, recovery."),
    "budget": Lazy(_group(_budget), "Budget envelopes per channel and year."),
    "publicity": Lazy(_group(_publicity), "公示: the awards on public notice."),
    "portal": Lazy(_group(_portal), "The HTTP/JSON API, the enterprise page and the bureau "
                   "workbench."),
    "identity": Lazy(_group(_identity), "People's credentials and the portal's session key."),
}  # fmt: skip
