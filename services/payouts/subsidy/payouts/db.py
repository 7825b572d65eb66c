"""The payouts' schema: its migrations, applied by the shared migrator, and its role's needs."""

import asyncpg

from subsidy.infra.db_roles import RoleNeeds
from subsidy.infra.migrate import migrate

COMPONENT = "payouts"
MIGRATIONS = "subsidy.payouts.migrations"
# Every payouts table; transfers and the orders' history are the journal here.
TABLES = (
    "payout_desk", "payout_accounts", "transfers", "payout_intake", "payment_orders",
    "payment_order_history", "receivables", "budget_loads", "budget_envelopes", "budget_alerts",
    "payout_batches", "payout_batch_lines", "payout_return_files", "objection_dismissals",
    "receivable_refunds", "write_off_approvals", "payout_notices",
)  # fmt: skip
# The payouts commands: members of subsidy_payouts (migration 0002), never the tables' owner.
ROLE = RoleNeeds(
    "payouts", COMPONENT, MIGRATIONS, TABLES,
    append_only=(
        "transfers", "payment_order_history", "budget_loads", "payout_intake", "payout_notices",
        "receivable_refunds", "payout_return_files", "entries", "decisions", "payee_accounts",
        "objections",
    ),
    # The ledger's working state is none of the payouts' business.
    forbidden=("outbox", "annual_usage", "item_usage", "parked_reviews", "review_approvals",
               "rejected_events"),
)  # fmt: skip


async def migrate_payouts(conn: asyncpg.Connection) -> list[str]:
    """Apply the payouts' pending migrations; returns the files applied."""
    return await migrate(conn, COMPONENT, MIGRATIONS)
