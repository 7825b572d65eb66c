"""Where accepted events go: the enterprise-events record of an event and the Kafka sink."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from subsidy.contract.codec import event_to_proto
from subsidy.domain.events import EnterpriseEvent
from subsidy.events.v1 import events_pb2
from subsidy.infra.records import RecordWriter


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where Kafka stored a record."""

    partition: int
    offset: int


# An accepted event and its content hash (EnterpriseEvent.content_hash, computed once).
Hashed = tuple[EnterpriseEvent, str]


class EventSink(Protocol):
    """Where accepted events go (Kafka); results are in the order of the events."""

    async def send_all(
        self, events: Sequence[Hashed], provenance: events_pb2.Provenance | None = None
    ) -> list[Delivery | Exception]:
        """Send in order, each with `provenance`, and wait for every acknowledgement (or
        failure)."""
        ...


def event_record(
    event: EnterpriseEvent, provenance: events_pb2.Provenance | None = None
) -> tuple[bytes, bytes]:
    """An accepted event as its enterprise-events.v1 record: (key, value), no headers. The
    provenance travels in the value (outside the content hash), so eligibility carries it on
    to the ledger with the event's bytes."""
    message = event_to_proto(event)
    if provenance is not None:
        message.submitted_by.CopyFrom(provenance)
    return event.enterprise_id.encode(), message.SerializeToString(deterministic=True)


class KafkaEventSink:
    """An idempotent aiokafka producer (acks=all): protobuf values keyed by enterpriseId, so one
    enterprise's events stay in one partition, in order."""

    def __init__(self, producer: RecordWriter, topic: str, timeout_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s

    @property
    def topic(self) -> str:
        """The topic events are produced to."""
        return self._topic

    async def send_all(
        self, events: Sequence[Hashed], provenance: events_pb2.Provenance | None = None
    ) -> list[Delivery | Exception]:
        """Queue every event, then wait for all acknowledgements together (one round trip per
        partition batch, not per event)."""
        futures: list[asyncio.Future[Any]] = []
        results: list[Delivery | Exception] = []
        for event, digest in events:
            try:
                key, value = event_record(event, provenance)
                futures.append(
                    await self._producer.send(
                        # A correction re-sends the event id: its content tells it apart.
                        self._topic, value, key=key, subject=event.enterprise_id,
                        ce_id=f"{event.event_id}/{digest[:16]}",
                    )
                )  # fmt: skip
            except Exception as err:
                # Later events of the same enterprise must not overtake this one, so stop.
                results = [err] * (len(events) - len(futures))
                break
        if futures:
            await asyncio.wait(futures, timeout=self._timeout_s)
        delivered: list[Delivery | Exception] = []
        for fut in futures:
            if not fut.done():
                delivered.append(TimeoutError(f"no acknowledgement within {self._timeout_s}s"))
            elif fut.cancelled():
                delivered.append(RuntimeError("the send was cancelled (producer stopping)"))
            elif (failed := fut.exception()) is not None:
                delivered.append(
                    failed if isinstance(failed, Exception) else RuntimeError(str(failed))
                )
            else:
                meta = fut.result()
                delivered.append(Delivery(meta.partition, meta.offset))
        return delivered + results
