"""The contract's field types (docs/contract.md §1, Field rules): amounts, dates, ids, text."""

import functools
import re
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic.alias_generators import to_camel
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from subsidy.domain.money import INT64_MAX

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"[0-9]+")


def _fen(value: object) -> int:
    """An amount in fen: a JSON integer or a string of digits, positive, within int64."""
    if isinstance(value, bool):
        raise ValueError("must be an integer number of fen, not a boolean")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a positive integer number of fen (digits only)")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("must be an integer number of fen")
    if value <= 0:
        raise ValueError("must be positive")
    if value > INT64_MAX:
        raise ValueError(f"must be at most {INT64_MAX}")
    return value


def _calendar_date(value: object) -> date:
    """`YYYY-MM-DD` naming a real calendar day."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a real calendar date") from None


# Feeds repeat the same enterprises over and over and stdnum's check is costly, so remember.
@functools.lru_cache(maxsize=65_536)
def _enterprise_id(value: str) -> str:
    """统一社会信用代码 (GB 32100-2015): 18 characters whose check character verifies."""
    if uscc.compact(value) != value:
        raise ValueError("must be 18 characters, digits and upper-case letters, no spaces")
    try:
        return str(uscc.validate(value))
    except StdnumError as err:
        raise ValueError(f"not a valid 统一社会信用代码: {err}") from None


# Text fields: bounded, and free of control characters (they end up in logs, mail and CSV)
# and of invisible ones that make a name read as something else: bidi overrides and isolates,
# zero-width characters, the BOM (all Cf), lone surrogates and line separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible_text(value: str) -> str:
    """Text a person reads as it is: no control or invisible formatting characters."""
    if value.isprintable():  # the common case; only other spaces, Co and Cn look closer
        return value
    for position, char in enumerate(value, 1):
        if unicodedata.category(char) in _HIDDEN:
            name = unicodedata.name(char, "(a control character)")
            raise ValueError(
                "must not contain control or invisible characters (bidi controls, zero-width"
                f" characters): U+{ord(char):04X} {name} at character {position}"
            )
    return value


_VISIBLE = AfterValidator(visible_text)
Id = Annotated[str, Field(min_length=1, max_length=128, strict=True), _VISIBLE]
Text = Annotated[str, Field(min_length=1, max_length=256, strict=True), _VISIBLE]
Fen = Annotated[int, BeforeValidator(_fen)]
EnterpriseId = Annotated[str, Field(strict=True), AfterValidator(_enterprise_id)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
Positive = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
NonNegative = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class ContractModel(BaseModel):
    """Contract models: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )


def _not_blank(value: str) -> str:
    """Text that says something: not only spaces."""
    if not value.strip():
        raise ValueError("不能只有空白 / must not be blank (only spaces)")
    return value


_ACCOUNT_NUMBER = re.compile(r"[0-9]{8,32}")


def _account_number(value: str) -> str:
    """A bank account number as the bank prints it: ASCII digits only, nothing stripped."""
    if not _ACCOUNT_NUMBER.fullmatch(value):
        raise ValueError("银行账号须为 8 至 32 位数字,不含空格 / must be 8 to 32 digits, no spaces")
    return value


# Text a person must be able to act on (a bank's name, an objection's reason): never blank.
SayingText = Annotated[Text, AfterValidator(_not_blank)]
AccountNumber = Annotated[str, Field(strict=True), AfterValidator(_account_number)]


def _printable(value: str) -> str:
    """A reference typed or copied by a person: printable characters only."""
    if not value.isprintable():
        raise ValueError("只能包含可打印字符 / must hold printable characters only")
    return value


# An appeal's grounds and a bureau's reasons for deciding it: longer than a name, never blank.
Grounds = Annotated[
    str, Field(min_length=1, max_length=2000, strict=True), _VISIBLE, AfterValidator(_not_blank)
]
# A document kept elsewhere (a file id): short, printable.
DocumentRef = Annotated[
    str, Field(min_length=1, max_length=200, strict=True), AfterValidator(_printable)
]
