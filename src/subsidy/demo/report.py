"""The summary a bureau wants after a run, read from the ledger's tables."""

import asyncpg
from rich.console import Console
from rich.table import Table

from subsidy.domain.catalog import Catalog
from subsidy.domain.enums import DISTRICT_NAMES_ZH, District
from subsidy.domain.money import format_fen


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for i, column in enumerate(columns):
        table.add_column(column, justify="right" if i else "left")
    return table


# bigint: sum() of bigint is numeric in PostgreSQL, and money stays integer fen here.
_GRANTED = "coalesce(sum(granted_fen) FILTER (WHERE granted_fen > 0), 0)::bigint"


async def print_summary(conn: asyncpg.Connection, catalog: Catalog, console: Console) -> None:
    """Granted by measure, district, year and funding channel; denials by reason; pending
    reviews; referred cases by bureau; rejected events."""
    by_measure, by_district, by_year, by_channel = await _granted_tables(conn, catalog)
    denials, statuses, referred = await _case_tables(conn)
    pending = await conn.fetchval(
        "SELECT count(*) FROM entitlements WHERE status = 'PENDING_REVIEW'"
    )
    clawback = await conn.fetchval(
        "SELECT coalesce(sum(clawback_fen), 0)::bigint FROM entitlements"
    )
    total = await conn.fetchval("SELECT coalesce(sum(granted_fen), 0)::bigint FROM entitlements")
    for table in (statuses, by_measure, by_district, by_year, by_channel, denials, referred):
        console.print(table)
    console.print(f"Pending reviews (待评审): {pending}    Clawbacks booked (应追回): "
                  f"{format_fen(clawback)}    Total granted (合计): "
                  f"{format_fen(total)}")  # fmt: skip


async def _granted_tables(conn: asyncpg.Connection, catalog: Catalog) -> tuple[Table, ...]:
    """What was granted, by measure, district, year and funding channel."""
    titles = {r.measure: r.title.split(" · ")[0] for r in catalog.rules}
    granted = _GRANTED
    by_measure = _table("Granted by measure (按条款)", "measure", "entitlements paid", "granted")
    for r in await conn.fetch(
        f"SELECT measure, count(*) FILTER (WHERE granted_fen > 0) n, {granted} g"
        " FROM entitlements GROUP BY measure ORDER BY measure"
    ):
        by_measure.add_row(f"第{r['measure']}条 {titles[r['measure']]}", str(r["n"]),
                           format_fen(r["g"] or 0))  # fmt: skip
    by_district = _table("Granted by district (按地区)", "district", "enterprises paid", "granted")
    for r in await conn.fetch(
        f"SELECT district, count(DISTINCT enterprise_id) FILTER (WHERE granted_fen > 0) n,"
        f" {granted} g FROM entitlements GROUP BY district ORDER BY g DESC"
    ):
        name = DISTRICT_NAMES_ZH.get(District(r["district"]), r["district"])
        by_district.add_row(name, str(r["n"]), format_fen(r["g"] or 0))
    by_year = _table("Granted by year (按年度)", "year", "granted")
    for r in await conn.fetch(
        f"SELECT year, {granted} g FROM entitlements GROUP BY year ORDER BY year"
    ):
        by_year.add_row(str(r["year"]), format_fen(r["g"] or 0))
    # G3: every payout names its funding channels; a payout under several units is shown under
    # each of them (the channel pays it jointly), so these rows overlap and do not add up.
    by_channel = _table("Granted by funding channel (按资金渠道, G3; joint measures listed under "
                        "each unit)", "responsible unit", "granted")  # fmt: skip
    for r in await conn.fetch(
        f"SELECT unnest(funding_channels) c, {granted} g FROM entitlements"
        " GROUP BY c ORDER BY g DESC"
    ):
        by_channel.add_row(r["c"], format_fen(r["g"] or 0))
    return by_measure, by_district, by_year, by_channel


async def _case_tables(conn: asyncpg.Connection) -> tuple[Table, ...]:
    """Denials by reason, entitlements by status, and referred cases by bureau."""
    denials = _table("Denials by reason (未获支持原因)", "reason", "entitlements")
    for r in await conn.fetch(
        "SELECT unnest(reasons) reason, count(*) n FROM entitlements"
        " WHERE status = 'DENIED' GROUP BY reason ORDER BY n DESC"
    ):
        denials.add_row(r["reason"], str(r["n"]))
    statuses = _table("Entitlements by status", "status", "entitlements", "granted")
    for r in await conn.fetch(
        "SELECT status, count(*) n, sum(granted_fen)::bigint g FROM entitlements"
        " GROUP BY status ORDER BY n DESC"
    ):
        statuses.add_row(r["status"], str(r["n"]), format_fen(r["g"] or 0))
    referred = _table("Referred cases by bureau (转相关部门)", "bureau", "cases")
    for r in await conn.fetch(
        "SELECT unnest(funding_channels) c, count(*) n FROM entitlements"
        " WHERE status = 'REFERRED' GROUP BY c ORDER BY n DESC"
    ):
        referred.add_row(r["c"], str(r["n"]))
    return denials, statuses, referred
