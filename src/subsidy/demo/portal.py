"""The sample's 苏州政务服务网 filings: payee accounts (收款账户) and objections (异议)."""

import random
from datetime import date, timedelta
from typing import Any

from subsidy.demo.story import Story
from subsidy.harness.principals import PORTAL

# Where Suzhou enterprises bank, with the first digits their account numbers share.
BANKS = (
    ("中国工商银行苏州分行", "1102"),
    ("中国银行苏州分行", "4669"),
    ("中国建设银行苏州分行", "3220"),
    ("中国农业银行苏州分行", "1054"),
    ("交通银行苏州分行", "3250"),
    ("江苏银行苏州分行", "3020"),
    ("苏州银行", "5112"),
    ("招商银行苏州分行", "5129"),
)
REGISTERED = 0.92  # enterprises that register an account before their first fact
CHANGED = 0.03  # of those, enterprises that change it later
# Approvals objected to in their public notice (公示): about five in the 400 enterprises' sample.
OBJECTED = 0.065
# What a competitor or a member of the public objects to, by the rule of the award.
REASONS = {
    "m03.national_platform": ("平台阶段验收材料不完整", "同一平台已获其他财政资金支持"),
    "m05.service_platform": ("服务年度数据存在重复统计", "服务企业名单与实际不符"),
    "m06.exhibition": ("展会实际规模未达申报标准", "展会主办单位并非申报企业"),
}
OTHER_REASON = ("申报材料与实际不符",)


def _account(rng: random.Random) -> dict[str, str]:
    bank, prefix = rng.choice(BANKS)
    return {"bankName": bank, "accountNumber": prefix + f"{rng.randrange(10**15):015d}"}


def portal_filings(s: Story, seed: int, end: date) -> None:
    """The enterprise's payee accounts and objections, each kind drawn from a generator of its
    own: the enterprise's other events are those the seed gave before the portal existed, and
    the objections do not move when the accounts' draws change."""
    if s.events:
        _payee_accounts(s, random.Random(f"{seed}:{s.n}:payee"), end)
        _objections(s, random.Random(f"{seed}:{s.n}:公示"))


def _payee_accounts(s: Story, rng: random.Random, end: date) -> None:
    """Most register an account before their first fact; a few change it later."""
    first = min(on for on, _, _ in s.events)
    if rng.random() >= REGISTERED:
        return
    on = max(first - timedelta(days=rng.randrange(1, 90)), date(2025, 1, 2))
    _file(s, on, "payee-1", "payeeAccountRegistered", _account(rng) | {"accountName": s.name})
    if rng.random() < CHANGED and first + timedelta(days=30) < end:
        later = first + timedelta(days=rng.randrange(30, (end - first).days))
        _file(s, later, "payee-2", "payeeAccountRegistered",
              _account(rng) | {"accountName": s.name})  # fmt: skip


def _objections(s: Story, rng: random.Random) -> None:
    """Now and then an approval is objected to, a few days into its public notice."""
    for k, ((ref, rule), approved_on) in enumerate(sorted(_approvals(s).items())):
        if rng.random() < OBJECTED:
            reason = rng.choice(REASONS.get(rule, OTHER_REASON))
            objection = {"eventRef": ref, "ruleId": rule, "reason": reason}
            filed = approved_on + timedelta(days=rng.randrange(1, 7))
            _file(s, filed, f"objection-{k}", "objectionFiled", objection)


def _approvals(s: Story) -> dict[tuple[str, str], date]:
    """Each (event, rule) a review approved, and the day of the approval that decided it: the
    second reviewer's, when four eyes asked for one."""
    approved: dict[tuple[str, str], date] = {}
    for on, _, event in s.events:
        review = event.get("reviewDecided")
        if review is not None and review["approved"]:
            key = (review["eventRef"], review["ruleId"])
            approved[key] = max(on, approved.get(key, on))
    return approved


def _file(s: Story, on: date, tag: str, payload_type: str, payload: dict[str, Any]) -> None:
    s.add(on, payload_type, payload, event_id=f"{PORTAL}:{s.n}:{tag}")
