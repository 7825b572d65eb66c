"""Treasury batches as the bank sees them: the lines sent, and the lines of its return file."""

from dataclasses import dataclass, field
from datetime import date

from subsidy.domain.record import record


@record
class BatchLine:
    """One payment of a batch file, with the payee account it is sent to (the columns)."""

    order_id: str  # 业务流水号
    payee_name: str  # 收款单位
    enterprise_id: str  # 统一社会信用代码
    bank_name: str  # 开户银行
    account_number: str  # 账号
    amount_fen: int  # 金额
    purpose: str  # 用途
    channel: str  # 资金渠道


@dataclass(slots=True)
class Batch:
    """A treasury batch: its lines, and the results the bank returned so far by order."""

    batch_id: str
    channel: str
    pay_date: date
    lines: tuple[BatchLine, ...]
    results: dict[str, str] = field(default_factory=dict)  # order → PAID or RETURNED

    @property
    def total_fen(self) -> int:
        """The batch's total."""
        return sum(ln.amount_fen for ln in self.lines)


@record
class ReturnLine:
    """One line of the bank's return file: the order, what the bank says it paid, and the
    outcome (PAID, or RETURNED with the bank's reason)."""

    line: int
    order_id: str
    account_number: str
    amount_fen: int
    paid: bool
    reason: str = ""
