"""Builders for contract-shaped test events with sensible defaults."""

import itertools
import json
from typing import Any

from subsidy.demo.generator import enterprise_code

_counter = itertools.count(1)

ENTERPRISE = "91350100M000100Y43"


def enterprise_id(n: int) -> str:
    """A valid 统一社会信用代码 numbered n: the demo generator's (check character by stdnum)."""
    return enterprise_code(n)


def bad_check(n: int) -> str:
    """enterprise_id(n) with a wrong check character."""
    good = enterprise_id(n)
    return good[:-1] + ("1" if good[-1] != "1" else "2")


def event(payload_type: str, payload: dict[str, Any], **top: Any) -> dict[str, Any]:
    """One event in the contract's JSON shape; top-level fields may be overridden."""
    base: dict[str, Any] = {
        "eventId": f"ev-{next(_counter)}",
        "source": "sz-miit-portal",
        "enterpriseId": ENTERPRISE,
        "enterpriseName": "苏州测试机器人有限公司",
        "district": "SIP",
        "occurredOn": "2025-07-01",
    }
    base.update(top)
    base[payload_type] = payload
    return base


def jsonl(events: list[dict[str, Any]]) -> list[str]:
    """Events as JSONL lines."""
    return [json.dumps(e, ensure_ascii=False) for e in events]
