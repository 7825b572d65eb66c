"""Guard errors of the payouts: raised before any change, each naming what it refuses."""


class PayoutError(ValueError):
    """An operation the payouts refuse; nothing was changed."""


class InvalidTransfer(PayoutError):
    """A transfer that is not a movement between two accounts of the chart."""


class BalanceRuleBroken(PayoutError):
    """A transfer would take an account below zero on its normal side."""


class BudgetRefused(PayoutError):
    """A budget file or envelope that cannot be loaded."""


class BatchRefused(PayoutError):
    """A batch that cannot be made (nothing payable, or made already for another day)."""


class ReturnRefused(PayoutError):
    """A bank's return file that cannot be applied; `line` and `field` say where."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(f"line {line}, {field}: {message}")
        self.line = line
        self.field = field


class RecoveryRefused(PayoutError):
    """A refund or write-off that does not fit the receivable."""
