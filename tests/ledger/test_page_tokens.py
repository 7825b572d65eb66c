"""The page-token codec ListDecisions and ListQueue share: tokens issued before still work."""

from datetime import UTC, datetime

import pytest

from subsidy.domain.deadlines import Queue
from subsidy.ledger import page_tokens, queries
from subsidy.ledger import workbench_queries as wq
from subsidy.ledger.page_tokens import BadPageToken, Cursor

AT = datetime(2025, 10, 14, 4, 0, 0, 123456, tzinfo=UTC)
# Issued by each pager's own codec before they shared one (a client may hold such a token
# across a deploy): ListDecisions' for measure 3, ListQueue's for 市工信局's overdue reviews.
DECISIONS_TOKEN = (
    "eyJ2IjoxLCJhdCI6MTc2MDQxNDQwMDEyMzQ1NiwiaWQiOiJkLTEiLCJmIjoiYjEyOTM4OWI1ZWM4NjE3YyJ9"
)
QUEUE_TOKEN = (
    "eyJ2IjoxLCJiIjoi5biC5bel5L-h5bGAIiwicSI6IlJFVklFVyIsIm8iOnRydWUsImF0IjoxNzYwNDE0NDAw"
    "MTIzNDU2LCJpZCI6IndiLWExL20wNSJ9"
)
MIIT_OVERDUE = wq.QueueKey("市工信局", Queue.REVIEW, True)


def test_tokens_issued_before_still_decode() -> None:
    filters = queries.DecisionFilter(measure=3)
    assert queries.decode_page_token(DECISIONS_TOKEN, filters) == Cursor(AT, "d-1")
    assert wq.decode_page_token(QUEUE_TOKEN, MIIT_OVERDUE) == Cursor(AT, "wb-a1/m05")
    # The queue's token is the very same document; the decisions' differs in field order only.
    assert wq.encode_page_token(Cursor(AT, "wb-a1/m05"), MIIT_OVERDUE) == QUEUE_TOKEN
    again = queries.encode_page_token(Cursor(AT, "d-1"), filters)
    assert queries.decode_page_token(again, filters) == Cursor(AT, "d-1")


def test_a_token_continues_only_its_own_request() -> None:
    with pytest.raises(BadPageToken, match="issued for other filters"):
        queries.decode_page_token(DECISIONS_TOKEN, queries.DecisionFilter(measure=8))
    for other in (
        wq.QueueKey("市科技局", Queue.REVIEW, True),
        wq.QueueKey("市工信局", Queue.REFERRED, True),
        wq.QueueKey("市工信局", Queue.REVIEW, False),
    ):
        with pytest.raises(BadPageToken, match="issued for another bureau, queue or filter"):
            wq.decode_page_token(QUEUE_TOKEN, other)
    # A token of one pager is none of the other's.
    with pytest.raises(BadPageToken, match="not a page token of this API"):
        wq.decode_page_token(DECISIONS_TOKEN, MIIT_OVERDUE)
    with pytest.raises(BadPageToken, match="not a page token of this API"):
        queries.decode_page_token(QUEUE_TOKEN, queries.DecisionFilter(measure=3))


@pytest.mark.parametrize(
    "token",
    ["", "%%%", "bm90IGEgdG9rZW4", "eyJ2IjoyfQ", "eyJ2IjoxLCJhdCI6IjAiLCJpZCI6IngifQ",
     "eyJ2IjoxLCJhdCI6MCwiaWQiOiIifQ", "eyJ2IjoxLCJhdCI6MTAwMDAwMDAwMDAwMDAwMDAwMCwiaWQiOiJ4In0"],
)  # fmt: skip
def test_what_is_not_a_token(token: str) -> None:
    # Not base64 JSON, version 2, "at" a string, an empty id, a time past year 9999.
    with pytest.raises(BadPageToken, match="not a page token of this API"):
        page_tokens.decode(token, {}, "other")


def test_a_key_cannot_overwrite_the_cursor() -> None:
    with pytest.raises(ValueError, match="must not name"):
        page_tokens.encode(Cursor(AT, "x"), {"id": "y"})
