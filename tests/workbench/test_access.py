"""Who may read which bureau's queues: a reviewer or approver its own bureau's only (another is
PERMISSION_DENIED naming `bureau`, before anything of the request is read), an auditor any;
callers without an auditor's token never reach the service."""

from typing import Any

import grpc
import pytest

from subsidy.api.v1 import workbench_pb2 as wpb
from tests.ledger.api import AUDITOR, WRITER_TOKEN, violated_fields
from tests.workbench.conftest import PERSON
from tests.workbench.seed import MIIT, SCIENCE

pytestmark = pytest.mark.postgres


def person(role: str, bureau: str, name: str) -> tuple[tuple[str, str | bytes], ...]:
    return (*AUDITOR, (PERSON, f"{role}|{bureau}|{name}".encode()))


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
async def test_a_bureau_s_people_read_their_own_bureau(stub: Any, role: str) -> None:
    for call in calls(stub, MIIT):
        await call(person(role, MIIT, "wang"))
    page = await stub.ListQueue(
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW), metadata=person(role, MIIT, "wang")
    )
    assert len(page.cases) == 3


@pytest.mark.parametrize("role", ["reviewer", "approver"])
async def test_another_bureau_is_refused_naming_bureau(stub: Any, role: str) -> None:
    for bureau in (MIIT, "", "市不存在局"):
        for call in calls(stub, bureau):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(person(role, SCIENCE, "reviewer-zhao"))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert violated_fields(refused.value) == ["bureau"]
            assert "reviewer-zhao acts for 市科技局" in (refused.value.details() or "")


@pytest.mark.parametrize("role", ["enterprise", "admin"])
async def test_people_of_no_bureau_are_refused(stub: Any, role: str) -> None:
    for call in calls(stub, MIIT):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(person(role, "", "someone"))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert violated_fields(refused.value) == ["bureau"]


async def test_auditors_read_any_bureau(stub: Any) -> None:
    for bureau in (MIIT, SCIENCE):
        for call in calls(stub, bureau):
            await call(AUDITOR)  # the static auditor token: no person's principal
            await call(person("auditor", "", "auditor-sun"))


async def test_without_an_auditor_s_token_nothing_is_served(stub: Any) -> None:
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer nobody-ever-issued-this-token"),),
         grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {WRITER_TOKEN}"),), grpc.StatusCode.PERMISSION_DENIED),
    ):  # fmt: skip
        for call in calls(stub, MIIT):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(metadata)
            assert refused.value.code() == code
