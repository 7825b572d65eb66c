"""What the pages need to know besides the API: labels written once in the domain, and the
source the portal's events claim."""

from typing import Any

from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_ZH


def site_facts(source: str) -> dict[str, Any]:
    """Labels by code (statuses, districts) and the portal's event source."""
    return {
        "source": source,
        "status": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
        "district": {d.value: name for d, name in DISTRICT_NAMES_ZH.items()},
    }
