"""subsidy_workbench_cases{queue,bureau,state}."""

# Set from one query per queue, and kept fresh by the ledger API server itself (the real
# `subsidy ledger serve` start, TLS and tokens).

import asyncio

import asyncpg
import pytest

from subsidy.api.v1 import workbench_pb2 as wpb
from subsidy.api.v1 import workbench_pb2_grpc
from subsidy.ledger.bootstrap import ledger_api
from subsidy.ledger.workbench_gauges import refresh
from tests.ledger.api import AUDITOR, api_sample, api_settings
from tests.ledger.events import CATALOG
from tests.support.grpc_tls import GrpcTls
from tests.workbench.seed import LATER, MIIT, NOW, SCIENCE

pytestmark = pytest.mark.postgres


def cases(queue: str, bureau: str, state: str) -> float:
    return api_sample("subsidy_workbench_cases", queue=queue, bureau=bureau, state=state)


async def test_the_gauge_counts_open_and_overdue_cases_per_queue_and_bureau(
    seeded: tuple[str, str],
) -> None:
    conn = await asyncpg.connect(seeded[1])  # the ledger API's login
    try:
        await refresh(conn, CATALOG, NOW)
        assert (cases("REVIEW", MIIT, "open"), cases("REVIEW", MIIT, "overdue")) == (3, 1)
        assert (cases("REVIEW", SCIENCE, "open"), cases("REVIEW", SCIENCE, "overdue")) == (1, 0)
        assert cases("OBJECTIONS", MIIT, "open") == cases("APPEALS", MIIT, "open") == 1
        assert cases("RETURNED_PAYMENTS", MIIT, "open") == 1
        assert cases("OBJECTIONS", SCIENCE, "open") == 0  # dismissed
        # Every bureau of the catalog is set, with nothing waiting too.
        assert api_sample("subsidy_workbench_cases", queue="REFERRED", bureau="市委人才办",
                          state="open") == 0  # fmt: skip
        await refresh(conn, CATALOG, LATER)
        assert cases("REVIEW", MIIT, "overdue") == 3
    finally:
        await conn.close()


async def test_the_ledger_api_serves_the_workbench_and_refreshes_the_gauge(
    seeded: tuple[str, str], grpc_tls: GrpcTls
) -> None:
    conn = await asyncpg.connect(seeded[1])
    try:
        await refresh(conn, CATALOG, NOW)  # one overdue review at the tests' now
    finally:
        await conn.close()
    assert cases("REVIEW", MIIT, "overdue") == 1
    async with ledger_api(api_settings(seeded[1], grpc_tls), CATALOG, grace=1.0) as api:
        # The server's own task refreshes at start, at the real now: every review is overdue.
        for _ in range(100):
            if cases("REVIEW", MIIT, "overdue") == 3:
                break
            await asyncio.sleep(0.05)
        assert cases("REVIEW", MIIT, "overdue") == 3
        async with grpc_tls.channel(f"127.0.0.1:{api.port}") as channel:
            stub = workbench_pb2_grpc.WorkbenchServiceStub(channel)
            counts = await stub.GetQueueCounts(
                wpb.GetQueueCountsRequest(bureau=MIIT), metadata=AUDITOR
            )
    review = counts.counts[0]
    assert (review.queue, review.total, review.overdue) == (wpb.REVIEW, 3, 3)
