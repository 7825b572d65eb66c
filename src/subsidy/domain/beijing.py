"""Beijing time, the clock every person-facing figure is shown in."""

from datetime import datetime, timedelta, timezone

# China has no daylight saving time, so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "CST")


def in_beijing(moment: datetime) -> datetime:
    """The instant in Beijing time. A naive datetime is refused (ValueError): astimezone would
    take it for the machine's local time, so the same row would show another instant on
    another host."""
    if moment.utcoffset() is None:
        raise ValueError(f"an instant needs its UTC offset: {moment.isoformat()}")
    return moment.astimezone(BEIJING)


def beijing_time(moment: datetime) -> str:
    """`2026-01-02 09:30:00`, in Beijing time."""
    return in_beijing(moment).strftime("%Y-%m-%d %H:%M:%S")


def beijing_iso(moment: datetime) -> str:
    """ISO-8601 in Beijing time with its offset, to the second (machine output)."""
    return in_beijing(moment).isoformat(timespec="seconds")
