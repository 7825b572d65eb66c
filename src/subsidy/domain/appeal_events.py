"""Appeal payloads (复核申请, docs/contract.md §1): filed by an enterprise, decided by a bureau."""

from pydantic import StrictBool

from subsidy.domain.fields import ContractModel, DocumentRef, Grounds, Id


class AppealFiled(ContractModel):
    """An appeal against a denial or a reduction of an entitlement of the same enterprise."""

    event_ref: Id
    rule_id: Id
    reason: Grounds
    attachment_ref: DocumentRef | None = None


class AppealDecided(ContractModel):
    """A bureau's decision on an open appeal: upheld or dismissed, and why."""

    appeal_ref: Id
    event_ref: Id
    rule_id: Id
    upheld: StrictBool
    reason: Grounds
