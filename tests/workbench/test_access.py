"""Who may read which bureau's queues, each person signed in with a real session."""

# Signed in through the ledger API's interceptor: a reviewer or approver its own bureau's only
# (another is PERMISSION_DENIED naming `bureau`, before anything of the request is read), an auditor
# any; people of no bureau and callers without an auditor's token or a valid session never reach it.

import time
from typing import Any

import grpc
import pytest

from subsidy.api.v1 import workbench_pb2 as wpb
from subsidy.identity.sessions import key_pair_pem, load_private_key
from tests.ledger.api import AUDITOR, WRITER_TOKEN, violated_fields
from tests.workbench.conftest import Workbench
from tests.workbench.seed import MIIT, SCIENCE

pytestmark = pytest.mark.postgres


def calls(stub: Any, bureau: str) -> list[Any]:
    """One call of each method for `bureau`."""
    return [
        lambda md: stub.ListQueue(wpb.ListQueueRequest(bureau=bureau, queue=wpb.REVIEW),
                                  metadata=md),
        lambda md: stub.GetQueueCounts(wpb.GetQueueCountsRequest(bureau=bureau), metadata=md),
        lambda md: stub.SearchEnterprises(
            wpb.SearchEnterprisesRequest(bureau=bureau, query="苏州"), metadata=md),
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["reviewer", "approver"])
async def test_a_bureau_s_people_read_their_own_bureau(
    stub: Any, bench: Workbench, role: str
) -> None:
    for call in calls(stub, MIIT):
        await call(bench.session(f"{role}-wang"))
    page = await stub.ListQueue(
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW), metadata=bench.session(f"{role}-wang")
    )
    assert len(page.cases) == 3


@pytest.mark.parametrize("role", ["reviewer", "approver"])
async def test_another_bureau_is_refused_naming_bureau(
    stub: Any, bench: Workbench, role: str
) -> None:
    for bureau in (MIIT, "", "市不存在局"):
        for call in calls(stub, bureau):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(bench.session(f"{role}-zhao"))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert violated_fields(refused.value) == ["bureau"]
            assert f"{role}-zhao acts for 市科技局" in (refused.value.details() or "")


@pytest.mark.parametrize(
    ("name", "role"), [("enterprise-a", "enterprise"), ("admin-qian", "admin")]
)
async def test_people_of_no_bureau_are_refused(
    stub: Any, bench: Workbench, name: str, role: str
) -> None:
    # The access matrix gives their roles no workbench method: the interceptor refuses them.
    for call in calls(stub, MIIT):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(bench.session(name))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert f"a {role} may not call" in (refused.value.details() or "")


async def test_auditors_read_any_bureau(stub: Any, bench: Workbench) -> None:
    for bureau in (MIIT, SCIENCE):
        for call in calls(stub, bureau):
            await call(AUDITOR)  # the static auditor token: no person's principal
            await call(bench.session("auditor-sun"))


async def test_without_an_auditor_s_token_nothing_is_served(stub: Any, bench: Workbench) -> None:
    other_key = load_private_key(key_pair_pem()[0])
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer nobody-ever-issued-this-token"),),
         grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {WRITER_TOKEN}"),), grpc.StatusCode.PERMISSION_DENIED),
        # A bureau's reviewer, but a session signed with another key, or one that has expired.
        (bench.session("reviewer-wang", other_key), grpc.StatusCode.UNAUTHENTICATED),
        (bench.session("reviewer-wang", ttl_s=60, now=time.time() - 120),
         grpc.StatusCode.UNAUTHENTICATED),
    ):  # fmt: skip
        for call in calls(stub, MIIT):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(metadata)
            assert refused.value.code() == code
