"""Beijing time, the clock every person-facing figure is shown in."""

from datetime import datetime, timedelta, timezone

# China has no daylight saving time, so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "CST")


def beijing_time(moment: datetime) -> str:
    """`2026-01-02 09:30:00`, in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
