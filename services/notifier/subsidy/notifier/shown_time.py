"""An instant as the notifier's mail and webhook text show it: Beijing time, to the minute."""

from datetime import datetime

from subsidy.domain.beijing import in_beijing


def beijing_minute(moment: datetime) -> str:
    """`2026-01-02 09:30` in Beijing time: no seconds, no fraction, no offset (the words around
    it say 北京时间; the webhook's JSON keeps the exact instant with its offset)."""
    return in_beijing(moment).strftime("%Y-%m-%d %H:%M")
