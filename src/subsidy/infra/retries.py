"""The platform's retry policies (tenacity): what waits how long between tries, and when to stop."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import structlog
import tenacity
from tenacity import AsyncRetrying, RetryCallState, Retrying

log = structlog.get_logger(__name__)

T = TypeVar("T")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

# What a call site retries: exception types, or a test of the exception (a gRPC status code).
RetryOn = tuple[type[BaseException], ...] | Callable[[BaseException], bool]
# Called with the error after every failed attempt that was worth retrying, the last one too
# (so a counter of retries counts the attempt that exhausted the policy).
OnFailure = Callable[[BaseException], None]


@dataclass(frozen=True, slots=True)
class Policy:
    """Exponential backoff with jitter: the n-th wait is first_s·2ⁿ⁻¹ plus up to jitter_s at
    random, never above max_s. Bounded by attempts (tries in all) and/or deadline_s (no try
    starts once that long has passed since the first); neither bound: until it succeeds."""

    name: str
    first_s: float
    max_s: float
    jitter_s: float
    attempts: int | None = None
    deadline_s: float | None = None
    # How loud a retry is: a server still starting up is expected, a broker refusing is not.
    level: str = "warning"

    def bounded(self, *, attempts: int | None = None, deadline_s: float | None = None) -> "Policy":
        """The same waits with other bounds (a caller's --retries, a command's timeout)."""
        return replace(self, attempts=attempts, deadline_s=deadline_s)

    def wait_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based), jitter included."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = attempt
        return float(self._wait()(state))

    def _wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential_jitter(
            multiplier=self.first_s, max=self.max_s, jitter=self.jitter_s
        )

    def _stop(self, stop_event: asyncio.Event | None) -> tenacity.stop.stop_base:
        stop: tenacity.stop.stop_base = tenacity.stop_never
        if self.attempts is not None:
            stop = stop | tenacity.stop_after_attempt(self.attempts)
        if self.deadline_s is not None:
            # stop_before_delay: no wait is begun that would end past the deadline.
            stop = stop | tenacity.stop_before_delay(self.deadline_s)
        if stop_event is not None:
            stop = stop | _StopWhenSet(stop_event)
        return stop

    def _options(
        self,
        retry_on: RetryOn,
        on_failure: OnFailure | None,
        event: str | None,
        fields: Any,
        last: list[BaseException] | None = None,
    ) -> dict[str, Any]:
        test = retry_on if callable(retry_on) else (lambda err: isinstance(err, retry_on))
        name = event or f"retry.{self.name}"

        def after(state: RetryCallState) -> None:
            if on_failure is not None:
                on_failure(_error_of(state))

        def before_sleep(state: RetryCallState) -> None:
            wait = state.upcoming_sleep
            if last is not None:
                last[:] = [_error_of(state)]
            error = repr(_error_of(state))
            log.log(_LEVELS[self.level], name, policy=self.name,
                    attempt=state.attempt_number, retry_in_s=round(wait, 3), error=error,
                    **fields)  # fmt: skip

        return {
            "wait": self._wait(),
            "retry": tenacity.retry_if_exception(test),
            "after": after,
            "before_sleep": before_sleep,
            "reraise": True,  # the caller sees the last error itself, not tenacity's RetryError
        }

    def attempts_async(
        self,
        retry_on: RetryOn,
        *,
        stop_event: asyncio.Event | None = None,
        on_failure: OnFailure | None = None,
        event: str | None = None,
        **fields: Any,
    ) -> AsyncRetrying:
        """`async for attempt in policy.attempts_async(...): with attempt: ...` — the body is
        tried again while it raises what `retry_on` names. A set `stop_event` ends the waiting
        at once and the last error is raised. Each retry is logged as `event` (default
        `retry.<name>`) with `fields`."""
        last: list[BaseException] = []
        return AsyncRetrying(
            stop=self._stop(stop_event),
            sleep=_sleeper(stop_event, last),
            **self._options(retry_on, on_failure, event, fields, last),
        )

    def attempts_sync(
        self,
        retry_on: RetryOn,
        *,
        on_failure: OnFailure | None = None,
        event: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **fields: Any,
    ) -> Retrying:
        """The blocking form of attempts_async, for code without an event loop."""
        return Retrying(
            stop=self._stop(None), sleep=sleep, **self._options(retry_on, on_failure, event, fields)
        )

    async def call(self, fn: Callable[[], Awaitable[T]], retry_on: RetryOn, **options: Any) -> T:
        """await fn() under this policy (options as for attempts_async)."""
        async for attempt in self.attempts_async(retry_on, **options):
            with attempt:
                return await fn()
        raise AssertionError("unreachable: tenacity returns or raises")

    def call_sync(self, fn: Callable[[], T], retry_on: RetryOn, **options: Any) -> T:
        """fn() under this policy (options as for attempts_sync)."""
        for attempt in self.attempts_sync(retry_on, **options):
            with attempt:
                return fn()
        raise AssertionError("unreachable: tenacity returns or raises")

    def backoff(self, event: str, **fields: Any) -> "Backoff":
        """The waits of a loop that must run until stopped, failure or not (see Backoff)."""
        return Backoff(self, event, fields)


@dataclass(slots=True)
class Backoff:
    """This policy's waits for a long-running loop whose step cannot be wrapped in one call
    (it reconnects, or rewinds a consumer, before trying again): `failed(err)` logs the retry
    and says how long to wait, `succeeded()` starts the waits over."""

    policy: Policy
    event: str
    fields: dict[str, Any]
    failures: int = 0

    def failed(self, err: BaseException, **fields: Any) -> float:
        self.failures += 1
        wait = self.policy.wait_s(self.failures)
        context = {**self.fields, **fields}
        log.log(_LEVELS[self.policy.level], self.event, policy=self.policy.name,
                attempt=self.failures, retry_in_s=round(wait, 3), error=repr(err),
                **context)  # fmt: skip
        return wait

    def succeeded(self) -> None:
        self.failures = 0


class _StopWhenSet(tenacity.stop.stop_base):
    """Stop once the service is stopping."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._event.is_set()


def _error_of(state: RetryCallState) -> BaseException:
    assert state.outcome is not None
    error = state.outcome.exception()
    assert error is not None
    return error


def _sleeper(
    stop_event: asyncio.Event | None, last: list[BaseException]
) -> Callable[[float], Awaitable[None]]:
    """asyncio.sleep, cut short when `stop_event` is set: then no further try is made and the
    last error is raised (a stopping service neither sits out its backoff nor tries again)."""
    if stop_event is None:
        return asyncio.sleep

    async def sleep(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), seconds)
        if stop_event.is_set() and last:
            raise last[-1]

    return sleep


# ---- the policies ------------------------------------------------------------------------
# Jitter keeps a fleet of workers that failed together from retrying in step.

# A batch's PostgreSQL transaction after a transient error (serialization, deadlock, a dropped
# connection): 0.1 s doubling to 5 s, 20 tries (about a minute), then the worker fails and
# its supervisor restarts it.
DATABASE_TRANSACTION = Policy("database_transaction", first_s=0.1, max_s=5.0, jitter_s=0.05,
                              attempts=20)  # fmt: skip
# A record the broker has not acknowledged: sent again until it is (never skipped, since the
# offsets behind it must not be committed), 0.5 s doubling to 5 s.
BROKER_SEND = Policy("broker_send", first_s=0.5, max_s=5.0, jitter_s=0.25)
# A long-running reader of PostgreSQL (a poller, a LISTEN connection) through an outage:
# 0.5 s doubling to 30 s, for as long as the service runs.
DATABASE_OUTAGE = Policy("database_outage", first_s=0.5, max_s=30.0, jitter_s=0.25)
# Waiting for a local server to accept connections: short steps, bounded by a deadline the
# caller sets (bounded(deadline_s=...)).
SERVICE_READY = Policy("service_ready", first_s=0.2, max_s=1.0, jitter_s=0.05, level="info")
# A call to another service (gRPC, HTTP, SMTP) it answered with "try later": 0.5 s doubling
# to 5 s; the caller says how many tries (bounded(attempts=...)).
OUTBOUND_CALL = Policy("outbound_call", first_s=0.5, max_s=5.0, jitter_s=0.25, attempts=4)
# A local command that failed once for no reason of its own (pg_ctl forked under load): 1 s
# apart, three tries.
LOCAL_COMMAND = Policy("local_command", first_s=1.0, max_s=1.0, jitter_s=0.0, attempts=3)


__all__ = [
    "BROKER_SEND",
    "DATABASE_OUTAGE",
    "DATABASE_TRANSACTION",
    "LOCAL_COMMAND",
    "OUTBOUND_CALL",
    "SERVICE_READY",
    "Backoff",
    "Policy",
]
