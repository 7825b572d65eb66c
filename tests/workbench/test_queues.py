"""WorkbenchService on the seeded ledger."""

# What each queue of two bureaus holds, with ages, deadlines and overdue at a fixed now; pages;
# counts; search; invalid requests.

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from subsidy.api.v1 import workbench_pb2 as wpb
from tests.ledger.api import AUDITOR, violated_fields
from tests.ledger.database import fetch
from tests.ledger.events import YUAN
from tests.workbench.conftest import Workbench
from tests.workbench.seed import LATER, MIIT, SCIENCE, A, B, C, D, E

pytestmark = pytest.mark.postgres


async def cases(
    stub: Any, bureau: str, queue: "wpb.WorkbenchQueue.ValueType", **more: Any
) -> list[wpb.WorkbenchCase]:
    """Every case of the queue, page after page."""
    found, token = [], ""
    while True:
        page = await stub.ListQueue(
            wpb.ListQueueRequest(bureau=bureau, queue=queue, page_token=token, **more),
            metadata=AUDITOR,
        )
        found += page.cases
        token = page.next_page_token
        if not token:
            return found


def summary(c: wpb.WorkbenchCase) -> tuple[Any, ...]:
    return (c.case_id, c.enterprise_id, c.entered_at, c.due_at, c.age_working_days, c.overdue)


async def test_the_review_queue_of_the_industry_bureau(stub: Any) -> None:
    review = await cases(stub, MIIT, wpb.REVIEW)
    assert [summary(c) for c in review] == [
        # Fri Sep 26: due Fri Oct 10 (国庆 skipped, Sun Sep 28 worked); eight working days by
        # Tue Oct 14 (Sep 28–30, Oct 9–11, 13, 14).
        ("wb-a1/m05.service_platform", A, "2025-09-26T10:00:00+08:00",
         "2025-10-10T23:59:59+08:00", 8, True),
        ("wb-b2/m03.national_platform", B, "2025-09-30T16:00:00+08:00",
         "2025-10-14T23:59:59+08:00", 5, False),
        ("wb-c1/m06.exhibition", C, "2025-10-09T09:00:00+08:00",
         "2025-10-15T23:59:59+08:00", 4, False),
    ]  # fmt: skip
    first, waiting, expo = review
    assert first.queue == wpb.REVIEW
    assert first.rule_id == "m05.service_platform"
    assert first.clause == "第5条 加强公共服务平台建设"
    assert first.amount_fen == 2_000_000 * YUAN  # nothing asked yet: the rule's cap
    assert not first.awaiting_second_approval
    assert first.calendar_known
    assert first.district == "SIP"
    assert first.enterprise_name == "苏州甲平台科技有限公司"
    # The first approval of ¥5,000,000 waits for a second reviewer; the case is as old as the
    # entitlement's PENDING_REVIEW, not as its second decision.
    assert waiting.awaiting_second_approval
    assert waiting.first_reviewer == "reviewer-wang"
    assert waiting.amount_fen == 5_000_000 * YUAN
    assert expo.entitlement_id == "wb-c1/m06.exhibition"


async def test_each_bureau_sees_the_cases_of_its_rules(stub: Any) -> None:
    assert [c.case_id for c in await cases(stub, SCIENCE, wpb.REVIEW)] == [
        "wb-b2/m03.national_platform"]  # fmt: skip
    assert [c.case_id for c in await cases(stub, MIIT, wpb.REFERRED)] == [
        "wb-a2/m02.capacity_expansion"]  # fmt: skip
    [referred] = await cases(stub, SCIENCE, wpb.REFERRED)
    assert referred.case_id == "wb-b1/m04.key_component_rd"
    assert referred.amount_fen == 0  # left to another policy: no figure
    # Ten working days from Tue Sep 30: Oct 9–11, 13–17, 20, 21.
    assert referred.due_at == "2025-10-21T23:59:59+08:00"
    assert [c.case_id for c in await cases(stub, "市商务局", wpb.REVIEW)] == [
        "wb-c1/m06.exhibition"]  # fmt: skip


async def test_objections_less_those_dismissed(stub: Any) -> None:
    [objection] = await cases(stub, MIIT, wpb.OBJECTIONS)
    assert objection.case_id == "wb-c2o"
    assert objection.entitlement_id == "wb-c2/m09.first_unit"
    assert objection.reason == "该产品并非首台套"
    assert objection.amount_fen == 1_000_000 * YUAN  # the award it holds
    assert objection.entered_at == "2025-10-13T11:00:00+08:00"
    assert objection.due_at == "2025-10-20T23:59:59+08:00"
    # The Timestamps beside the deprecated strings carry the same instants.
    assert objection.entered_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(
        objection.entered_at
    )
    assert objection.due_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(objection.due_at)
    assert objection.age_working_days == 1
    # 市科技局 dismissed the objection to C's consortium award (subsidy publicity dismiss).
    assert await cases(stub, SCIENCE, wpb.OBJECTIONS) == []


async def test_open_appeals(stub: Any) -> None:
    [appeal] = await cases(stub, MIIT, wpb.APPEALS)
    assert appeal.case_id == "wb-e1p"
    assert appeal.enterprise_id == E
    assert appeal.entitlement_id == "wb-e1/m06.exhibition"
    assert appeal.reason == "展会规模符合要求"
    assert appeal.amount_fen == 2_000_000 * YUAN  # a rejected review: the rule's cap
    # Fifteen working days from Mon Oct 13: Oct 14–17, 20–24, 27–31, Nov 3.
    assert appeal.due_at == "2025-11-03T23:59:59+08:00"
    assert await cases(stub, SCIENCE, wpb.APPEALS) == []


async def test_returned_payments(stub: Any, bench: Workbench) -> None:
    [returned] = await cases(stub, MIIT, wpb.RETURNED_PAYMENTS)
    [order] = await fetch(
        bench.owner_url,
        "SELECT order_id, amount_fen, return_reason FROM payment_orders"
        " WHERE state = 'WAITING' AND hold = 'RETURNED'",
    )
    [entered] = await fetch(
        bench.owner_url,
        "SELECT min(at) AS at FROM payment_order_history WHERE order_id = $1 AND hold = 'RETURNED'",
        order["order_id"],
    )
    assert returned.case_id == order["order_id"]
    assert returned.enterprise_id == D
    assert returned.entitlement_id == "wb-d1/m09.first_unit"
    assert returned.amount_fen == order["amount_fen"] == 500_000 * YUAN  # the city's half
    assert returned.reason == order["return_reason"] != ""
    assert datetime.fromisoformat(returned.entered_at) == entered["at"].replace(microsecond=0)
    # The string is cut to the second; the Timestamp keeps the instant whole.
    assert returned.entered_time.ToDatetime(tzinfo=UTC) == entered["at"]
    assert await cases(stub, SCIENCE, wpb.RETURNED_PAYMENTS) == []


async def test_overdue_only_and_a_later_now(stub: Any, bench: Workbench) -> None:
    overdue = await cases(stub, MIIT, wpb.REVIEW, overdue_only=True)
    assert [c.case_id for c in overdue] == ["wb-a1/m05.service_platform"]
    bench.clock.moment = LATER  # Thu Oct 16: the platform's and the exhibition's are due too
    later = await cases(stub, MIIT, wpb.REVIEW, overdue_only=True)
    assert [(c.case_id, c.age_working_days) for c in later] == [
        ("wb-a1/m05.service_platform", 10),
        ("wb-b2/m03.national_platform", 7),
        ("wb-c1/m06.exhibition", 6),
    ]
    assert await cases(stub, MIIT, wpb.REFERRED, overdue_only=True) == []


async def test_pages(stub: Any) -> None:
    first = await stub.ListQueue(
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW, page_size=2), metadata=AUDITOR
    )
    assert [c.case_id for c in first.cases] == [
        "wb-a1/m05.service_platform", "wb-b2/m03.national_platform"]  # fmt: skip
    second = await stub.ListQueue(
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW, page_size=2,
                             page_token=first.next_page_token), metadata=AUDITOR,
    )  # fmt: skip
    assert [c.case_id for c in second.cases] == ["wb-c1/m06.exhibition"]
    assert second.next_page_token == ""
    for other in (
        wpb.ListQueueRequest(bureau=SCIENCE, queue=wpb.REVIEW, page_token=first.next_page_token),
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REFERRED, page_token=first.next_page_token),
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW, overdue_only=True,
                             page_token=first.next_page_token),
        wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW, page_token="not-a-token"),
    ):  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListQueue(other, metadata=AUDITOR)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(refused.value) == ["pageToken"]


async def test_counts(stub: Any, bench: Workbench) -> None:
    def by_queue(response: wpb.GetQueueCountsResponse) -> dict[str, tuple[int, int]]:
        return {wpb.WorkbenchQueue.Name(c.queue): (c.total, c.overdue) for c in response.counts}

    miit = await stub.GetQueueCounts(wpb.GetQueueCountsRequest(bureau=MIIT), metadata=AUDITOR)
    assert by_queue(miit) == {"REVIEW": (3, 1), "REFERRED": (1, 0), "APPEALS": (1, 0),
                              "OBJECTIONS": (1, 0), "RETURNED_PAYMENTS": (1, 0)}  # fmt: skip
    assert miit.as_of == "2025-10-14T12:00:00+08:00"
    assert miit.as_of_time.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(miit.as_of)
    science = await stub.GetQueueCounts(wpb.GetQueueCountsRequest(bureau=SCIENCE), metadata=AUDITOR)
    assert by_queue(science) == {"REVIEW": (1, 0), "REFERRED": (1, 0), "APPEALS": (0, 0),
                                 "OBJECTIONS": (0, 0), "RETURNED_PAYMENTS": (0, 0)}  # fmt: skip
    bench.clock.moment = LATER
    later = await stub.GetQueueCounts(wpb.GetQueueCountsRequest(bureau=MIIT), metadata=AUDITOR)
    assert by_queue(later)["REVIEW"] == (3, 3)


async def test_search(stub: Any) -> None:
    async def search(bureau: str, query: str) -> list[tuple[str, str, str, int]]:
        found = await stub.SearchEnterprises(
            wpb.SearchEnterprisesRequest(bureau=bureau, query=query), metadata=AUDITOR
        )
        return [(e.enterprise_id, e.enterprise_name, e.district, e.open_cases)
                for e in found.enterprises]  # fmt: skip

    assert await search(MIIT, "乙智能") == [(B, "苏州乙智能研究院有限公司", "KUNSHAN", 1)]
    assert await search(SCIENCE, "乙智能") == [(B, "苏州乙智能研究院有限公司", "KUNSHAN", 2)]
    assert await search(SCIENCE, B[:17].lower()) == [(B, "苏州乙智能研究院有限公司", "KUNSHAN", 2)]
    # D's paid award is 市工信局's: a returned payment open; 市科技局 has nothing of D's.
    assert await search(MIIT, "丁装备") == [(D, "苏州丁装备有限公司", "SIP", 1)]
    assert await search(SCIENCE, "丁装备") == []
    # C's consortium award is 市科技局's, its objection dismissed: found, nothing open.
    assert await search(SCIENCE, C) == [(C, "苏州丙机器人有限公司", "GUSU", 0)]
    everyone = await search(MIIT, "苏州")
    assert [e[0] for e in everyone] == sorted([A, B, C, D, E])
    assert dict((e[0], e[3]) for e in everyone) == {A: 2, B: 1, C: 2, D: 1, E: 1}


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (wpb.ListQueueRequest(bureau="", queue=wpb.REVIEW), ["bureau"]),
        (wpb.ListQueueRequest(bureau="市不存在局", queue=wpb.REVIEW), ["bureau"]),
        (wpb.ListQueueRequest(bureau=MIIT), ["queue"]),
        (wpb.ListQueueRequest(bureau=MIIT, queue=wpb.WorkbenchQueue.ValueType(99)), ["queue"]),
        (wpb.ListQueueRequest(bureau=MIIT, queue=wpb.REVIEW, page_size=-1), ["pageSize"]),
        (wpb.ListQueueRequest(bureau="x", page_size=-1), ["bureau", "queue", "pageSize"]),
        (wpb.GetQueueCountsRequest(bureau="x"), ["bureau"]),
        (wpb.SearchEnterprisesRequest(bureau=MIIT, query=" "), ["query"]),
        (wpb.SearchEnterprisesRequest(bureau=MIIT, query="苏" * 65), ["query"]),
        (wpb.SearchEnterprisesRequest(bureau=MIIT, query="苏州\u202e"), ["query"]),
    ],
)
async def test_a_bad_request_names_its_fields(stub: Any, request_: Any, fields: list[str]) -> None:
    method = {wpb.ListQueueRequest: stub.ListQueue, wpb.GetQueueCountsRequest: stub.GetQueueCounts,
              wpb.SearchEnterprisesRequest: stub.SearchEnterprises}[type(request_)]  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await method(request_, metadata=AUDITOR)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == fields
