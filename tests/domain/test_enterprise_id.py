"""统一社会信用代码 validation through python-stdnum's `stdnum.cn.uscc`."""

import pytest

from subsidy.domain.events import InvalidEvent, parse_event
from tests.factories import enterprise_id, event


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91320500MA00000010", enterprise_id(12345)])
def test_valid_codes_are_accepted(code: str) -> None:
    assert parse_event(event("projectDesignated", {"itemId": "p"}, enterpriseId=code))


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100m000100y43",  # lower case
        "91350100M000100Y4 3",  # a space inside
        "913501I0M000100Y43",  # I is not in the GB 32100 alphabet
        "",
    ],
)
def test_invalid_codes_are_rejected_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(event("projectDesignated", {"itemId": "p"}, enterpriseId=code))
    assert [e.field for e in caught.value.errors] == ["enterpriseId"]
