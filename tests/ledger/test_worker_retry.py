"""The ledger worker waits for a restarting PostgreSQL (57P01-57P03) instead of exiting."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from subsidy.domain.catalog import load_catalog
from subsidy.ledger.processor import BatchReport, Message, PreparedBatch
from subsidy.ledger.repository import BookCache
from subsidy.ledger.settings import LedgerSettings
from subsidy.ledger.worker import LedgerWorker


class _Pool:
    """A pool whose first connections fail with the given errors; then it hands out one whose
    transaction does nothing (the batch itself is stubbed)."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        if self.errors:
            raise self.errors.pop(0)
        yield self

    def transaction(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class _Prepared:
    report = BatchReport(messages=1, applied=1)

    def committed(self, cache: BookCache) -> None:
        pass


class _Message:
    enterprise_id = "91320594MA1X7K2Q8F"


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
)
async def test_a_restarting_database_is_retried(error: Exception) -> None:
    async def apply_batch(*_: object) -> PreparedBatch:
        return cast(PreparedBatch, _Prepared())

    # Kafka is not used by a batch's commit: the consumer and producer are never touched.
    worker = LedgerWorker(
        LedgerSettings(),  # type: ignore[call-arg]
        load_catalog(),
        pool=cast(asyncpg.Pool, _Pool([error, error])),
        consumer=cast(AIOKafkaConsumer, None),
        producer=cast(AIOKafkaProducer, None),
        apply=apply_batch,
    )
    await worker.commit_batch([cast(Message, _Message())])
    assert worker.stats.retries == 2
    assert worker.stats.batches == 1
