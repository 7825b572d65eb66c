"""What the feed reader tests share: the provincial CSV header, and writing and reading a feed."""

from pathlib import Path

from subsidy.infra.feeds import DEFAULT_SOURCE, FeedRow, read_feed

HEADER = ",".join(
    ["统一社会信用代码", "企业名称", "所属地区", "认定类型", "认定对象编号", "证书编号", "认定日期",
     "阶段", "人形机器人", "核定金额(元)"]
)  # fmt: skip


def write_csv(path: Path, lines: list[str], bom: bool = False) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig" if bom else "utf-8")
    return path


def rows(path: Path, source: str = DEFAULT_SOURCE) -> list[FeedRow]:
    return list(read_feed(path, source))


def fields(row: FeedRow) -> list[str]:
    return [e.field for e in row.errors]
