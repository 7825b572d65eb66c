"""What a person reads for each status, reason and ledger check, Chinese first and English."""

# Written once, for the notifier's messages, `ledger explain` and the portal's pages.

# Keyed by the protobuf enum names, which are the contract's codes (docs/contract.md §2).
STATUS_WORDS: dict[str, dict[str, str]] = {
    "PAID": {"zh": "已拨付", "en": "Paid"},
    "PARTIALLY_PAID": {"zh": "部分拨付", "en": "Partially paid"},
    "DENIED": {"zh": "不予支持", "en": "Denied"},
    "PENDING_REVIEW": {"zh": "待审核", "en": "Pending review"},
    "REFERRED": {"zh": "转责任单位按相关政策办理", "en": "Referred to the responsible units"},
    "RECORDED": {"zh": "已登记（不涉及资金）", "en": "Recorded (no funds involved)"},
    "SUPERSEDED": {"zh": "已由更高支持替代", "en": "Superseded by higher support"},
    "REVOKED": {"zh": "已撤销", "en": "Revoked"},
    "RETRACTED": {"zh": "已撤回", "en": "Retracted"},
    "ELIGIBLE": {"zh": "符合条件（尚未核定）", "en": "Eligible (not yet decided)"},
    "STATUS_UNSPECIFIED": {"zh": "状态未知", "en": "Unknown status"},
}

REASON_WORDS: dict[str, dict[str, str]] = {
    "OUTSIDE_WINDOW": {
        "zh": "事项发生日期不在政策有效期内",
        "en": "the date of the fact is outside the policy's period of validity",
    },
    "YEAR_LIMIT": {
        "zh": "该条款可支持的年度数已达上限",
        "en": "the rule's limit on the number of supported years is reached",
    },
    "ANNUAL_CAP": {
        "zh": "已达到该条款的年度支持上限",
        "en": "the rule's annual cap for the enterprise is reached",
    },
    "ITEM_CAP": {
        "zh": "已达到该支持对象的支持上限",
        "en": "the cap for this supported item is reached",
    },
    "DUPLICATE_LOWER": {
        "zh": "按“就高不重复”原则，同一支持对象已获得不低于本项的支持",
        "en": "under the highest-only, no-stacking principle (就高不重复) the item already "
        "has equal or higher support",
    },
    "OTHER_SUPPORT": {
        "zh": "同一支持对象已获本市其他政策支持，按“就高不重复”原则仅支持差额",
        "en": "support from another city programme for the same item is counted; only the "
        "difference is granted",
    },
    "CEILING_CLIPPED": {
        "zh": "核定金额超过政策上限，按上限支持",
        "en": "the approved amount exceeded the policy ceiling and was reduced to it",
    },
    "REVIEW_REJECTED": {
        "zh": "审核未通过",
        "en": "the review rejected the application",
    },
    "REASON_UNSPECIFIED": {"zh": "未说明的原因", "en": "an unspecified reason"},
}


# Each ledger check's name (docs/rules.md's steps), Chinese and English.
CHECK_LABELS: dict[str, tuple[str, str]] = {
    "window": ("政策有效期", "policy window (G1)"),
    "year_limit": ("支持年限", "year limit"),
    "annual_cap": ("年度上限", "annual cap"),
    "item_cap": ("单项上限", "item cap"),
    "same_event": ("同一事件择优", "best of one event's rules"),
    "stacking": ("就高不重复", "no stacking (G2)"),
    "other_support": ("其他渠道支持", "other city programmes"),
    "top_up": ("补差", "top-up"),
    "superseded": ("被更高支持取代", "superseded by a higher rule"),
    "review": ("评审", "review"),
    "revocation": ("撤销", "revocation"),
    "correction": ("更正或撤回", "correction or retraction"),
    "appeal": ("复核申请", "appeal"),
}

# The figures each ledger check records (subsidy.domain.ledger.checks, appeals), by their key
# in ExplainDecision's JSON, Chinese and English.
FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "alreadyGranted": ("已拨付", "already granted"),
    "alreadyPaidOnItem": ("该项目已拨付", "already paid on the item"),
    "appealDecision": ("复核决定", "appeal decision"),
    "appealEvent": ("复核申请事件", "appeal event"),
    "approvedAmount": ("批准金额", "approved amount"),
    "awaiting": ("等待", "awaiting"),
    "bestAmount": ("最高金额", "best amount"),
    "bestOtherRule": ("其他最高规则", "best other rule"),
    "bestOtherTotal": ("其他规则最高合计", "best other rule's total"),
    "bestRule": ("最高规则", "best rule"),
    "byEntitlement": ("按本项资格", "by this entitlement"),
    "byTotal": ("按合计", "by the total"),
    "cap": ("上限", "cap"),
    "cashMoved": ("资金变动", "cash moved"),
    "clawback": ("应追回", "clawback"),
    "decidedBy": ("决定人", "decided by"),
    "event": ("事件", "event"),
    "filedBy": ("申请人", "filed by"),
    "firstReviewEvent": ("第一次审核事件", "first review event"),
    "firstReviewer": ("第一位审核人", "first reviewer"),
    "grant": ("拨款", "grant"),
    "granted": ("已核定", "granted"),
    "grantedAfter": ("核定后", "granted after"),
    "grantedBefore": ("核定前", "granted before"),
    "headroomAfter": ("剩余额度（之后）", "headroom after"),
    "headroomBefore": ("剩余额度（之前）", "headroom before"),
    "maxYears": ("最多年数", "most years"),
    "occurredOn": ("发生日期", "occurred on"),
    "otherSupport": ("其他渠道支持", "other support"),
    "otherYearsWithSupport": ("已获支持的其他年度", "other years with support"),
    "program": ("项目", "programme"),
    "reason": ("理由", "reason"),
    "reduced": ("减少", "reduced"),
    "rejectedBy": ("驳回人", "rejected by"),
    "retractedBy": ("撤回事件", "retracted by"),
    "reversed": ("冲回", "reversed"),
    "reviewEvent": ("审核事件", "review event"),
    "reviewer": ("审核人", "reviewer"),
    "revision": ("版本", "revision"),
    "secondReviewFrom": ("须两人审核的金额起点", "second review from"),
    "statusBefore": ("之前状态", "status before"),
    "thisAmount": ("本项金额", "this amount"),
    "thisRule": ("本规则", "this rule"),
    "thisRuleTotal": ("本规则合计", "this rule's total"),
    "usedBefore": ("此前已用", "used before"),
    "validFrom": ("有效期起", "valid from"),
    "validTo": ("有效期止", "valid to"),
    "year": ("年度", "year"),
}
