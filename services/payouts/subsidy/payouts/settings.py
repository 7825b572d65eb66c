"""The payouts commands' settings: set-off, and the common ones (DATABASE_URL, the policy…)."""

import os
import signal
from collections.abc import Callable
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator

from subsidy.infra.settings import CommonSettings
from subsidy.infra.signing_keys import Signer, readable_private_key


class PayoutsSettings(CommonSettings):
    """What the payouts commands read (PAYOUTS_* variables, plus the common ones)."""

    # 抵扣: a receivable is settled from the enterprise's next payment orders of the same
    # channel. Off, receivables wait for a refund or a write-off.
    set_off: bool = Field(True, validation_alias=AliasChoices("PAYOUTS_SET_OFF", "set_off"))
    # Fault injection for the fault suite: SIGKILL a batch or a confirmation right after its
    # database commit, before its files or its report. Never set it in production.
    crash_after_commit: bool = Field(
        False, validation_alias=AliasChoices("PAYOUTS_CRASH_AFTER_COMMIT", "crash_after_commit")
    )

    # The treasury's Ed25519 key (PEM) that signs each batch's manifest, so the bank can tell
    # a batch the treasury made from one written by anyone else. A secret: no default.
    signing_key_file: Path | None = Field(
        None, validation_alias=AliasChoices("PAYOUTS_SIGNING_KEY_FILE", "signing_key_file")
    )

    _readable_key = field_validator("signing_key_file")(readable_private_key)

    def signer(self) -> Signer | None:
        """The manifests' signer, when a key is configured."""
        return None if self.signing_key_file is None else Signer.from_file(self.signing_key_file)

    def after_commit(self) -> Callable[[], None]:
        """What a batch or a confirmation does once committed: nothing, or die (faults)."""
        if self.crash_after_commit:
            return lambda: os.kill(os.getpid(), signal.SIGKILL)
        return lambda: None
