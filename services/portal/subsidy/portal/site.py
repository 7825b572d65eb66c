"""What the pages need to know besides the API: labels written once in the domain, and the
source the portal's events claim."""

from typing import Any

from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_ZH
from subsidy.domain.words import CHECK_LABELS, REASON_WORDS


def site_facts(source: str) -> dict[str, Any]:
    """Labels by code (statuses, reasons, ledger checks, districts) and the portal's event
    source."""
    return {
        "source": source,
        "status": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
        "reason": {code: words["zh"] for code, words in REASON_WORDS.items()},
        "check": {code: zh for code, (zh, _) in CHECK_LABELS.items()},
        "district": {d.value: name for d, name in DISTRICT_NAMES_ZH.items()},
    }
