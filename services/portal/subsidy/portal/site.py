"""What the pages need to know besides the API: labels, and the source the portal's events claim."""

# The labels are in Chinese and English, written once in the domain.

from typing import Any

from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_EN, DISTRICT_NAMES_ZH
from subsidy.domain.words import CHECK_LABELS, REASON_WORDS, STATUS_WORDS

LANGUAGES = ("zh", "en")


def _labels(lang: str) -> dict[str, dict[str, str]]:
    """One language's labels by code: statuses, reasons, ledger checks, districts."""
    # A badge in Chinese uses the short labels (已拨付, 转责任单位); English has only one wording.
    status = (
        {str(k): v for k, v in STATUS_LABELS_ZH.items()}
        if lang == "zh"
        else {code: words["en"] for code, words in STATUS_WORDS.items()}
    )
    districts = DISTRICT_NAMES_ZH if lang == "zh" else DISTRICT_NAMES_EN
    return {
        "status": status,
        "reason": {code: words[lang] for code, words in REASON_WORDS.items()},
        "check": {code: pair[LANGUAGES.index(lang)] for code, pair in CHECK_LABELS.items()},
        "district": {d.value: name for d, name in districts.items()},
    }


def site_facts(source: str) -> dict[str, Any]:
    """The labels in each language the pages offer (`zh`, `en`) and the portal's event source."""
    return {"source": source, **{lang: _labels(lang) for lang in LANGUAGES}}
