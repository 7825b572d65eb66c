"""Who submitted an event: the contract's `submittedBy` as the domain reads it."""

# `submittedBy` is subsidy.events.v1.Provenance. Not content: the event's hash leaves it out, and
# only the ingest API sets it.

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# As INGEST_CREDENTIALS names principals (subsidy.infra.principals.PrincipalName).
Principal = Annotated[str, Field(strict=True, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class Submitter(BaseModel):
    """The principal whose credential submitted the event, and how it came (as recorded).
    Fields the contract may add later are ignored here rather than refusing the event."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    principal: Principal
    channel: Annotated[str, Field(max_length=64)] | None = None
    accepted_at: Annotated[str, Field(max_length=64)] | None = None
    # Kept as the JSON mapping spells it, so that an event the ledger encodes again (a parked
    # review) still carries the Timestamp beside the deprecated string.
    accepted_time: Annotated[str, Field(max_length=64)] | None = None


# The channel of a person's session (the portal, docs/security.md), as the contract's
# SubmissionChannel names it.
PORTAL = "PORTAL"


def registers_names(who: Submitter | None) -> bool:
    """Does an event so submitted give its enterprise's registered name (and district)? Those
    of its sources do (no provenance, or any channel but the portal: feeds, bureaus' systems);
    one a person submitted through the portal never does: a reviewer's review or an
    enterprise's own payee account or appeal names the enterprise as someone typed it, and
    the workbench's search, the payouts and the payee accounts' check read the registered
    name. The ledger's book and the service's enterprises rows both follow this one rule."""
    return who is None or who.channel != PORTAL
