"""The retry policies: a flaky call succeeds, the bounds hold, other errors pass through at once."""

import asyncio
import time
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from subsidy.infra import retries
from subsidy.infra.retries import Policy

# Real waits, kept short: the tests measure them.
FAST = Policy("test", first_s=0.01, max_s=0.04, jitter_s=0.005)


class Flaky:
    """Raises `error` the first `failures` times it is called, then returns the call count."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls

    async def async_call(self) -> int:
        return self()


def test_a_flaky_call_succeeds_and_each_retry_is_logged() -> None:
    flaky = Flaky(3, ConnectionError("refused"))
    failures: list[BaseException] = []
    with capture_logs() as logs:
        result = FAST.bounded(attempts=5).call_sync(
            flaky, (ConnectionError,), on_failure=failures.append, event="x.retry", item="a"
        )
    assert result == 4
    assert flaky.calls == 4
    assert len(failures) == 3
    assert [e["attempt"] for e in logs] == [1, 2, 3]
    assert {e["event"] for e in logs} == {"x.retry"}
    assert all(e["policy"] == "test" and e["item"] == "a" for e in logs)
    assert all("ConnectionError" in e["error"] for e in logs)


def test_retries_stop_at_the_attempts_bound_with_the_last_error() -> None:
    flaky = Flaky(100, ConnectionError("down"))
    failures: list[BaseException] = []
    with pytest.raises(ConnectionError, match="down"), capture_logs() as logs:
        FAST.bounded(attempts=3).call_sync(flaky, (ConnectionError,), on_failure=failures.append)
    assert flaky.calls == 3
    assert len(failures) == 3  # the exhausting attempt is counted too
    assert len(logs) == 2  # but only the two that were followed by a wait are retries
    assert {e["event"] for e in logs} == {"retry.test"}


def test_retries_stop_at_the_deadline() -> None:
    flaky = Flaky(10_000, TimeoutError("slow"))
    began = time.monotonic()
    with pytest.raises(TimeoutError), capture_logs():
        FAST.bounded(deadline_s=0.3).call_sync(flaky, (TimeoutError,))
    took = time.monotonic() - began
    assert 0.2 < took < 1.0
    assert 5 < flaky.calls < 40  # waited between tries, not a busy loop


def test_an_error_not_named_passes_through_at_once() -> None:
    flaky = Flaky(1, ValueError("bad row"))
    with pytest.raises(ValueError, match="bad row"), capture_logs() as logs:
        FAST.bounded(attempts=5).call_sync(flaky, (ConnectionError,))
    assert flaky.calls == 1
    assert logs == []


def test_a_predicate_chooses_what_is_retried() -> None:
    flaky = Flaky(2, OSError(111, "refused"))
    with capture_logs():
        assert FAST.call_sync(flaky, lambda err: getattr(err, "errno", None) == 111) == 3
    other = Flaky(2, OSError(13, "denied"))
    with pytest.raises(OSError, match="denied"):
        FAST.call_sync(other, lambda err: getattr(err, "errno", None) == 111)
    assert other.calls == 1


def test_waits_grow_exponentially_with_bounded_jitter_up_to_the_cap() -> None:
    policy = Policy("p", first_s=0.5, max_s=5.0, jitter_s=0.25)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        waits = [policy.wait_s(attempt) for _ in range(200)]
        assert all(base <= w <= base + 0.25 for w in waits)
        assert len(set(waits)) > 100  # jittered, not one value
    assert all(policy.wait_s(n) == 5.0 for n in (5, 10, 60))
    exact = replace(policy, jitter_s=0.0)
    assert [exact.wait_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_the_named_policies_are_bounded_where_the_caller_cannot_wait_forever() -> None:
    assert retries.DATABASE_TRANSACTION.attempts == 20
    assert retries.OUTBOUND_CALL.attempts is not None
    assert retries.LOCAL_COMMAND.attempts == 3
    # Those that run as long as their service does have no bound: a stop event ends them.
    assert retries.BROKER_SEND.attempts is None
    assert retries.DATABASE_OUTAGE.attempts is None
    for policy in (retries.BROKER_SEND, retries.DATABASE_OUTAGE, retries.DATABASE_TRANSACTION):
        assert policy.wait_s(100) <= policy.max_s


def test_async_retries_a_flaky_coroutine_and_stops_at_the_bound() -> None:
    async def scenario() -> None:
        flaky = Flaky(2, ConnectionResetError("reset"))
        with capture_logs() as logs:
            assert await FAST.call(flaky.async_call, (ConnectionError,)) == 3
        assert len(logs) == 2
        hopeless = Flaky(100, ConnectionResetError("reset"))
        with pytest.raises(ConnectionResetError), capture_logs():
            await FAST.bounded(attempts=4).call(hopeless.async_call, (ConnectionError,))
        assert hopeless.calls == 4
        passing = Flaky(1, KeyError("k"))
        with pytest.raises(KeyError):
            await FAST.call(passing.async_call, (ConnectionError,))
        assert passing.calls == 1

    asyncio.run(scenario())


def test_a_stop_event_cuts_the_wait_short_and_raises_the_last_error() -> None:
    slow = Policy("slow", first_s=30.0, max_s=30.0, jitter_s=0.0)

    async def scenario() -> float:
        stop = asyncio.Event()
        flaky = Flaky(100, ConnectionError("down"))
        asyncio.get_running_loop().call_later(0.2, stop.set)
        began = time.monotonic()
        with pytest.raises(ConnectionError), capture_logs():
            await slow.call(flaky.async_call, (ConnectionError,), stop_event=stop)
        assert flaky.calls == 1
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 5.0


def test_backoff_of_a_long_running_loop_grows_and_starts_over() -> None:
    backoff = replace(FAST, jitter_s=0.0).backoff("loop.failed", task="poll")
    with capture_logs() as logs:
        waits = [backoff.failed(OSError("x")) for _ in range(4)]
        backoff.succeeded()
        again = backoff.failed(OSError("y"), extra=1)
    assert waits == [0.01, 0.02, 0.04, 0.04]
    assert again == 0.01
    assert [e["attempt"] for e in logs] == [1, 2, 3, 4, 1]
    assert logs[-1]["task"] == "poll"
    assert logs[-1]["extra"] == 1
    assert {e["event"] for e in logs} == {"loop.failed"}
