"""The payouts commands' settings: set-off, and the common ones (DATABASE_URL, the policy…)."""

from pydantic import AliasChoices, Field

from subsidy.infra.settings import CommonSettings


class PayoutsSettings(CommonSettings):
    """What the payouts commands read (PAYOUTS_* variables, plus the common ones)."""

    # 抵扣: a receivable is settled from the enterprise's next payment orders of the same
    # channel. Off, receivables wait for a refund or a write-off.
    set_off: bool = Field(True, validation_alias=AliasChoices("PAYOUTS_SET_OFF", "set_off"))
