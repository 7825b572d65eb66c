"""Who a person is to the platform: a principal, its role and what the role is bound to."""

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a person may do. An enterprise sees only its own 统一社会信用代码; reviewers and
    approvers act for one bureau (a responsible unit of the catalog, e.g. 市工信局)."""

    ENTERPRISE = "enterprise"  # 企业: its own entitlements, appeals, payee account
    REVIEWER = "reviewer"  # 审核人: decides reviews of its bureau's rules
    APPROVER = "approver"  # 审批人: decides reviews and appeals of its bureau's rules
    AUDITOR = "auditor"  # 审计: reads everything, changes nothing
    ADMIN = "admin"  # 管理员: issues and revokes credentials; reads no enterprise data


# The roles bound to a bureau, and the one bound to an enterprise.
BUREAU_ROLES = frozenset({Role.REVIEWER, Role.APPROVER})


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person: the principal's name (logged, stored as `submittedBy` on what it
    submits), its role, the enterprise or bureau the role is bound to, and the credential
    the session came from (revoking that credential ends the session)."""

    name: str
    role: Role
    enterprise_id: str | None = None
    bureau: str | None = None
    credential_id: str = ""


# The principal of the call being served (set by the gRPC auth interceptor for a session
# token; None for a machine token: a feed, the auditor's static token).
current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)
