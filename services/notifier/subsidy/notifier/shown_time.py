"""An instant as the notifier's mail and webhook text show it: Beijing time, to the minute."""

from datetime import datetime

from subsidy.domain.beijing import BEIJING


def beijing_minute(moment: datetime) -> str:
    """`2026-01-02 09:30` in Beijing time: no seconds, no fraction, no offset (the words around
    it say 北京时间; the webhook's JSON keeps the exact instant with its offset)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime names no instant")
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
