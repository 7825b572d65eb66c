"""Batches built by hand for the file-format tests: realistic payees, awkward values included."""

from datetime import date
from pathlib import Path

from subsidy.domain.payouts.batches import Batch, BatchLine
from subsidy.domain.payouts.orders import order_id
from subsidy.domain.payouts.treasury import batch_id
from subsidy.payouts.batch_files import Manifest, write_batch

CHANNEL = "苏州市工业和信息化局"
PAY_DATE = date(2025, 3, 14)

# Three lines that a careless writer gets wrong: a leading-zero account (lost as a number), a
# payee name that Excel would run as a formula, an amount with cents and one of 5 fen.
LINES = (
    BatchLine(order_id("dec-1", "city"), "苏州灵巧手机器人有限公司", "91320594MA1W2X3Y4Q",
              "中国银行苏州工业园区支行", "0622848012345678901", 1234560,
              "具身智能本体研发奖励（R1，2025年度）", CHANNEL),
    BatchLine(order_id("dec-2", "city"), "=HYPERLINK(\"http://x\")苏州机器人", "91320500MA1NBC1234",
              "招商银行苏州分行", "6225880212345678", 5, "首台套奖励（R3，2025年度）", CHANNEL),
    BatchLine(order_id("dec-3", "city"), "苏州具身智能科技有限公司, 二部", "913205056789012345",
              "工商银行苏州分行", "62220202000123456789", 100000000,
              "场景应用补贴（R7，2025年度）", CHANNEL),
)  # fmt: skip


def sample_batch(lines: tuple[BatchLine, ...] = LINES) -> Batch:
    """A batch of the channel on PAY_DATE with the given lines."""
    return Batch(batch_id(CHANNEL, PAY_DATE), CHANNEL, PAY_DATE, lines)


def many_lines(n: int) -> tuple[BatchLine, ...]:
    """n distinct lines, amounts from 1.00 to n × 1.37 yuan."""
    return tuple(
        BatchLine(order_id(f"dec-{i}", "city"), f"苏州机器人企业{i:03d}有限公司",
                  f"9132059{i:011d}", "中国银行苏州分行", f"6217{i:012d}", 137 * (i + 1),
                  "具身智能本体研发奖励（R1，2025年度）", CHANNEL)
        for i in range(n)
    )  # fmt: skip


def written(folder: Path, batch: Batch | None = None) -> tuple[Batch, Manifest, Path]:
    """The batch written to `folder`: the batch, its manifest and the manifest's path."""
    batch = batch or sample_batch()
    manifest = write_batch(batch, folder)
    return batch, manifest, folder / f"{batch.batch_id}.manifest.json"
