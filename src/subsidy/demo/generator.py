"""A realistic, seeded stream of Suzhou robot-enterprise events, covering every rule."""

# Enterprises are generated in chunks; each chunk's events are sorted by date, so memory stays flat
# however many enterprises are asked for, and each enterprise's events are in order.

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.cn import uscc

from subsidy.demo.corrections import corrections, is_correction
from subsidy.demo.portal import portal_filings
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.entitlements import clip_to_ceiling
from subsidy.domain.enums import District
from subsidy.harness.principals import PORTAL, REVIEWER, SECOND_REVIEWER

START = date(2025, 2, 1)
END = date(2028, 2, 28)
CHUNK = 500
MALFORMED_RATE = 0.01
DUPLICATE_RATE = 0.005
# A second reviewer approves a large amount (four eyes, docs/rules.md) this long after the first.
SECOND_REVIEW_AFTER = timedelta(days=7)

_NAMES_A = [
    "智元",
    "灵犀",
    "天工",
    "擎朗",
    "优必",
    "极智",
    "星动",
    "云鲸",
    "开阳",
    "鹿鸣",
    "墨子",
    "青龙",
    "凌云",
    "玄机",
    "钧舟",
    "海豚",
    "麒麟",
    "翼展",
    "博远",
    "启明",
]
_NAMES_B = ["机器人", "智能科技", "具身智能", "自动化", "精密传动", "智能装备", "机器人科技"]
_SOURCES = ["js-provincial-cert-feed", "sz-miit-portal", "sz-sci-tech-portal"]
# Weighted toward the districts with the most robotics firms.
_DISTRICTS = (
    [District.SIP] * 5
    + [District.HUQIU] * 4
    + [District.WUZHONG] * 3
    + [
        District.XIANGCHENG,
        District.KUNSHAN,
        District.KUNSHAN,
        District.WUJIANG,
        District.GUSU,
        District.CHANGSHU,
        District.ZHANGJIAGANG,
        District.TAICANG,
    ]
)


def enterprise_code(n: int, region: str = "320500") -> str:
    """A valid 统一社会信用代码 for enterprise number n (check character by python-stdnum)."""
    body = f"91{region}MA{n:07d}"[:17]
    return body + uscc.calc_check_digit(body)


@dataclass
class _Story:
    """One enterprise's events as (date, tiebreak, event) before they are sorted."""

    n: int
    rng: random.Random
    code: str
    name: str
    district: str
    catalog: Catalog
    events: list[tuple[date, int, dict[str, Any]]] = field(default_factory=list)
    numbered: int = 0  # events numbered in their ids (a second approval takes its first's)

    def day(self, lo: date = START, hi: date = END) -> date:
        return lo + timedelta(days=self.rng.randrange(max(1, (hi - lo).days)))

    def add(
        self,
        on: date,
        payload_type: str,
        payload: dict[str, Any],
        reviewer: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """One event; a review names its `reviewer`. An `event_id` given draws nothing."""
        if event_id is None:
            event_id = f"{self.rng.choice(_SOURCES)}:{self.n}:{self.numbered}"
            self.numbered += 1
        event = {
            "eventId": event_id,
            "source": event_id.split(":", 1)[0],
            "enterpriseId": self.code,
            "enterpriseName": self.name,
            "district": self.district,
            "occurredOn": on.isoformat(),
            payload_type: payload,
        }
        if reviewer is not None:
            event["submittedBy"] = {"principal": reviewer}
        self.events.append((on, len(self.events), event))
        return event_id

    def cert(self, on: date, kind: str, item: str, **extra: Any) -> str:
        return self.add(
            on,
            "certificationObtained",
            {
                "kind": kind,
                "itemId": item,
                "certificateId": f"C{self.n}-{item}-{kind[:4]}",
                **extra,
            },
        )

    def review_later(self, ref: str, on: date, rule: str, ceiling_yuan: int) -> None:
        roll = self.rng.random()
        if roll < 0.15 or not date(2025, 6, 1) <= on <= date(2027, 12, 31):
            return  # still pending, or outside the window: nothing for a bureau to review
        later = on + timedelta(days=self.rng.randrange(20, 120))
        if roll < 0.35:
            review = {"eventRef": ref, "ruleId": rule, "approved": False}
            self.add(later, "reviewDecided", review, REVIEWER)
            return
        amount = self.rng.randrange(ceiling_yuan // 10, ceiling_yuan * 11 // 10) * 100
        review = {"eventRef": ref, "ruleId": rule, "approved": True, "approvedAmountFen": amount}
        first = self.add(later, "reviewDecided", review, REVIEWER)
        if self.needs_second(rule, later, amount):
            second = later + SECOND_REVIEW_AFTER
            self.add(second, "reviewDecided", review, SECOND_REVIEWER, f"{first}:second")

    def needs_second(self, rule_id: str, on: date, amount_fen: int) -> bool:
        """Does an approval of this much need a second reviewer under the policy of `on`?"""
        rule = self.catalog.at(on).rule(rule_id)
        threshold = rule.second_review_from_fen
        clipped, _ = clip_to_ceiling(amount_fen, rule.ceiling_fen)
        return threshold is not None and clipped >= threshold


# Certifications that come once and alone, with how likely an enterprise is to hold each.
_SIMPLE = [
    ("HIGH_TECH_ENTERPRISE", 0.3),
    ("SPECIALIZED_SME", 0.2),
    ("GAZELLE", 0.05),
    ("SINGLE_CHAMPION", 0.02),
    ("UNICORN", 0.01),
    ("TYPICAL_SCENARIO", 0.1),
    ("VERTICAL_LLM", 0.05),
    ("INNOVATION_CONSORTIUM", 0.03),
    ("KEY_COMPONENT_PROJECT", 0.1),
    ("OVERSEAS_EXPANSION", 0.1),
    ("HIGH_VALUE_PATENT", 0.1),
    ("TRAINING_BASE", 0.03),
    ("TOP_TALENT", 0.05),
    ("LISTED_COMPANY", 0.01),
]
_RECOGNITIONS = frozenset(kind for kind, _ in _SIMPLE)


def _story(n: int, seed: int, catalog: Catalog) -> _Story:
    """Enterprise n's events. Every helper draws from the same generator in a fixed order, so
    the order of the calls below is part of what a seed produces."""
    rng = random.Random(f"{seed}:{n}")
    s = _Story(
        n,
        rng,
        enterprise_code(n),
        f"苏州{rng.choice(_NAMES_A)}{rng.choice(_NAMES_B)}有限公司{n}",
        rng.choice(_DISTRICTS).value,
        catalog,
    )
    _labs(s)
    _national_platform(s)
    _compute(s)
    _first_units(s)
    _reviewed_items(s)
    _recognitions(s)
    _projects(s)
    portal_filings(s, seed, END)  # with a generator of its own
    corrections(s, seed, _RECOGNITIONS)  # last: they correct what came before; their own too
    return s


def _labs(s: _Story) -> None:
    """Labs and platforms, some upgraded later on the same item."""
    n, rng = s.n, s.rng
    if rng.random() < 0.35:
        lab = f"lab-{n}"
        first = s.day(START, date(2026, 6, 1))
        s.cert(
            first,
            rng.choice(["MUNICIPAL_KEY_LAB", "MUNICIPAL_KEY_LAB", "PROVINCIAL_ENGINEERING_CENTER"]),
            lab,
        )
        if rng.random() < 0.4:
            s.cert(
                s.day(first + timedelta(days=30), END),
                rng.choice(
                    [
                        "PROVINCIAL_KEY_LAB",
                        "PROVINCIAL_INNOVATION_CENTER",
                        "PROVINCIAL_JOINT_LAB",
                        "PROVINCIAL_MANUFACTURING_CENTER",
                    ]
                ),
                lab,
            )
        if rng.random() < 0.05:
            s.add(
                s.day(first, END), "certificationRevoked", {"itemId": lab, "reason": "复核不合格"}
            )
        if rng.random() < 0.1:
            s.add(
                s.day(),
                "otherSupportReceived",
                {
                    "itemId": lab,
                    "program": "苏州市科技计划",
                    "amountFen": rng.randrange(1, 30) * 10_000_000,
                },
            )


def _national_platform(s: _Story) -> None:
    """A rare national platform, certified in three stages, each reviewed."""
    n, rng = s.n, s.rng
    if rng.random() < 0.03:
        platform = f"np-{n}"
        on = s.day(START, date(2026, 1, 1))
        for stage in (1, 2, 3):
            ref = s.cert(on, "NATIONAL_PLATFORM", platform, stage=stage)
            s.review_later(ref, on, "m03.national_platform", 90_000_000)
            on += timedelta(days=rng.randrange(120, 300))


def _compute(s: _Story) -> None:
    """Compute: many enterprises file invoices; a few build large models over several years."""
    n, rng = s.n, s.rng
    if rng.random() < 0.6:
        builder = rng.random() < 0.15
        for year, share in ((2025, 0.9), (2026, 1.0), (2027, 1.0), (2028, 0.1)):
            for k in range(round(rng.randrange(0, 8 if not builder else 5) * share)):
                on = s.day(max(START, date(year, 1, 1)), min(END, date(year, 12, 31)))
                invoice: dict[str, Any] = {
                    "itemId": f"INV-{n}-{year}-{k}",
                    "amountFen": rng.randrange(20_000, 4_000_000) * 100,
                }
                if builder:
                    invoice["modelParamsBillions"] = rng.choice([7, 10, 13, 34, 70, 175])
                    invoice["applicationScenarios"] = rng.randrange(3, 9)
                s.add(on, "computeInvoiceFiled", invoice)


def _first_units(s: _Story) -> None:
    """First units of equipment, some humanoid, some with the amount already approved."""
    n, rng = s.n, s.rng
    for k in range(rng.randrange(0, 3) if rng.random() < 0.3 else 0):
        s.cert(
            s.day(),
            "FIRST_UNIT_EQUIPMENT",
            f"unit-{n}-{k}",
            humanoid=rng.random() < 0.4,
            **(
                {"approvedAmountFen": rng.randrange(300_000, 1_300_000) * 100}
                if rng.random() < 0.5
                else {}
            ),
        )


def _reviewed_items(s: _Story) -> None:
    """Exhibitions and yearly service reports, each decided by a bureau's review."""
    n, rng = s.n, s.rng
    if rng.random() < 0.08:
        on = s.day()
        ref = s.add(on, "exhibitionHeld", {"itemId": f"expo-{n}"})
        s.review_later(ref, on, "m06.exhibition", 2_000_000)
    if rng.random() < 0.08:
        for year in (2025, 2026, 2027):
            on = s.day(date(year, 2, 1), date(year, 6, 30))
            ref = s.add(on, "serviceReportFiled", {"itemId": f"plat-{n}", "serviceYear": year - 1})
            s.review_later(ref, on, "m05.service_platform", 2_000_000)


def _recognitions(s: _Story) -> None:
    """The certifications of _SIMPLE, each drawn on its own."""
    for kind, p in _SIMPLE:
        if s.rng.random() < p:
            s.cert(s.day(), kind, f"{kind.lower()}-{s.n}")


def _projects(s: _Story) -> None:
    """Standards, designated projects and capacity investments."""
    n, rng = s.n, s.rng
    if rng.random() < 0.1:
        s.add(
            s.day(),
            "standardPublished",
            {
                "itemId": f"T/SZRA {n}-2026",
                "level": rng.choice(["NATIONAL", "INDUSTRY", "LOCAL"]),
                "role": rng.choice(["LEAD", "PARTICIPANT"]),
            },
        )
    if rng.random() < 0.03:
        s.add(s.day(), "projectDesignated", {"itemId": f"proj-{n}"})
    if rng.random() < 0.05:
        s.add(
            s.day(),
            "capacityInvestmentFiled",
            {"itemId": f"cap-{n}", "investmentFen": rng.randrange(1, 50) * 100_000_000},
        )


def _malformed(rng: random.Random, good: dict[str, Any]) -> str:
    """A broken version of a good event, the way feeds really break."""
    bad = json.loads(json.dumps(good))
    kind = rng.randrange(7)
    if kind == 0:
        bad["enterpriseId"] = bad["enterpriseId"][:-1] + (
            "0" if bad["enterpriseId"][-1] != "0" else "1"
        )
    elif kind == 1:
        bad["district"] = "PUDONG"
    elif kind == 2:
        bad["occurredOn"] = "2025-02-30"
    elif kind == 3:
        payload = next(v for k, v in bad.items() if isinstance(v, dict))
        payload["amountFen"] = -100
    elif kind == 4:
        for key in [k for k, v in bad.items() if isinstance(v, dict)]:
            del bad[key]
    elif kind == 5:
        return json.dumps(bad, ensure_ascii=False)[:-7]  # truncated line
    else:
        bad["eventId"] = ""
    bad["eventId"] = bad["eventId"] and bad["eventId"] + ":bad"
    return json.dumps(bad, ensure_ascii=False)


def generate(enterprises: int, seed: int = 7) -> Iterator[str]:
    """JSONL lines: the events of `enterprises` enterprises, about 1% malformed, a few exact
    repeats (feeds redeliver), and a few corrections and retractions (docs/contract.md §1)."""
    rng = random.Random(seed)
    # The portal's filings and the corrections draw their own repeats and breakage: the
    # feed's other lines are as the seed made them before either existed.
    portal_rng = random.Random(f"{seed}:{PORTAL}")
    fixes_rng = random.Random(f"{seed}:更正")
    catalog = load_catalog()
    for lo in range(1, enterprises + 1, CHUNK):
        chunk: list[tuple[date, int, int, dict[str, Any]]] = []
        for n in range(lo, min(lo + CHUNK, enterprises + 1)):
            chunk.extend((on, n, k, ev) for on, k, ev in _story(n, seed, catalog).events)
        chunk.sort(key=lambda t: (t[0], t[1], t[2]))
        for _, _, _, ev in chunk:
            line = json.dumps(ev, ensure_ascii=False)
            yield line
            draws = (
                portal_rng if ev["source"] == PORTAL else fixes_rng if is_correction(ev) else rng
            )
            roll = draws.random()
            if roll < MALFORMED_RATE:
                yield _malformed(draws, ev)
            elif roll < MALFORMED_RATE + DUPLICATE_RATE:
                yield line
