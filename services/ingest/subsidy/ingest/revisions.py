"""Which submissions of an eventId the ingest API takes: new events, corrections, repeats."""

from dataclasses import dataclass
from typing import Literal

from subsidy.domain.events import EnterpriseEvent, FieldError

# The ledger's wording for the same conflict (DuplicateEventConflict), so that the export
# lists it as `subsidy simulate` does.
CONFLICT = FieldError("eventId", "an earlier event with this id has different content")

Verdict = Literal["new", "duplicate", "conflict", "invalid"]


@dataclass(frozen=True, slots=True)
class Known:
    """An eventId already accepted: the revision in force, the enterprise and source it was
    accepted for, the content hash of each revision accepted (docs/contract.md §1,
    Corrections and retractions), who sent the original and its payload type (None: accepted
    before ingest recorded them)."""

    revision: int
    enterprise_id: str
    source: str
    hashes: dict[int, str]
    submitted_by: str | None = None
    payload_type: str | None = None

    def taking(self, revision: int, digest: str) -> "Known":
        """This id once `revision` with content `digest` is accepted as well."""
        return Known(revision, self.enterprise_id, self.source, {**self.hashes, revision: digest},
                     self.submitted_by, self.payload_type)  # fmt: skip


def nothing_to_correct(event_id: str) -> FieldError:
    """A correction (revision above 1) of an id never accepted."""
    # The ledger's wording (UnknownCorrected), so that the export lists it as simulate does.
    return FieldError("revision", f"无可更正的原事件 / no event {event_id!r} to correct")


def sender_refusal(
    event: EnterpriseEvent, digest: str, known: Known | None, principal: str
) -> FieldError | None:
    """Why `principal` may not send `event` (content hash `digest`), a correction of an id
    known as `known`, if it may not: only the original's sender corrects an event. A source's
    events are corrected by who sent them, not by whoever shares the source (every person
    shares the portal's). Judged before `judge`, so that another principal is told nothing
    about the original (its enterprise, source or type); a repeat of an accepted revision is
    no correction and stays a duplicate, whoever sends it. An original accepted before ingest
    recorded its sender has none: nobody is proven to be it, so nobody corrects it."""
    revision = event.revision_number
    if known is None or revision == 1 or known.hashes.get(revision) == digest:
        return None
    if known.submitted_by == principal:
        return None
    return FieldError("revision", f"permission denied: {principal} did not send this event;"
                      " only its sender corrects it / 只有原事件的提交方可以更正")  # fmt: skip


def judge(
    event: EnterpriseEvent, digest: str, known: Known | None
) -> tuple[Verdict, tuple[FieldError, ...]]:
    """What becomes of `event`, whose content hash is `digest`, given what its id was (who
    may correct it is `sender_refusal`'s).

    A new id is taken as its original; a correction of an id never accepted is refused. The
    same revision with the same content as accepted is a duplicate (also a re-delivery of a
    revision since replaced), with other content, or a revision no higher than the one in
    force, a conflict. A higher revision is a correction, taken when it keeps the event's
    type, enterprise and source: it tells the same fact again, and a correction moved to
    another enterprise would travel on another partition than its original. A type not
    recorded (an event accepted before ingest recorded types) is left to the ledger.
    """
    revision = event.revision_number
    if known is None:
        if revision > 1:
            return "invalid", (nothing_to_correct(event.event_id),)
        return "new", ()
    if known.hashes.get(revision) == digest:
        return "duplicate", ()
    if revision <= known.revision:
        return "conflict", (CONFLICT,)
    moved = []
    if known.payload_type is not None and event.payload_type != known.payload_type:
        moved.append(FieldError(event.payload_type, "更正不得改变事件类型 / a correction keeps"
                                f" the event's type {known.payload_type}"))  # fmt: skip
    if event.enterprise_id != known.enterprise_id:
        moved.append(FieldError("enterpriseId", "更正不得改变企业 / a correction keeps the"
                                f" event's enterpriseId {known.enterprise_id}"))  # fmt: skip
    if event.source != known.source:
        moved.append(FieldError("source", "更正不得改变来源 / a correction keeps the event's"
                                f" source {known.source}"))  # fmt: skip
    if moved:
        return "conflict", tuple(moved)
    return "new", ()
