"""The ledger's provenance JSON is protobuf's own JSON mapping of it, for any provenance."""

from datetime import UTC, datetime

from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from subsidy.contract.codec import provenance_json
from subsidy.events.v1 import events_pb2 as epb

_CHANNELS = st.sampled_from(list(epb.SubmissionChannel.values()))
_INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@st.composite
def provenances(draw: st.DrawFn) -> epb.Provenance:
    """Any provenance: each field set or not, any text, any instant down to the nanosecond."""
    provenance = epb.Provenance(
        principal=draw(st.text()), channel=draw(_CHANNELS), accepted_at=draw(st.text())
    )
    if draw(st.booleans()):
        provenance.accepted_time.FromDatetime(draw(_INSTANTS))
        provenance.accepted_time.nanos = draw(
            st.sampled_from([0, 1, 1_000, 1_000_000, 999_999_999])
        )
    return provenance


@given(provenances())
def test_it_is_what_protobuf_writes(provenance: epb.Provenance) -> None:
    assert provenance_json(provenance) == json_format.MessageToJson(
        provenance, indent=None, sort_keys=True
    )


def test_none_is_none() -> None:
    assert provenance_json(None) is None
