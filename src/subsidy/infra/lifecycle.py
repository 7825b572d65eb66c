"""How every long-running component starts and stops."""

# An async context manager builds and starts it and yields a handle (the starlette lifespan shape);
# SIGTERM or SIGINT sets one event; the work in hand finishes, then the `async with` block tears the
# component down.

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Loop(Protocol):
    """A component that works until it is told to stop (a consumer, a relay)."""

    async def run(self, stop: asyncio.Event) -> object: ...


L = TypeVar("L", bound=Loop)


@asynccontextmanager
async def stop_on_signal() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs; the handlers go with it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def run_until_signalled(component: AbstractAsyncContextManager[Loop]) -> None:
    """Start the component, run its loop until SIGTERM or SIGINT, then stop it."""
    async with stop_on_signal() as stop, component as handle:
        await handle.run(stop)


async def wait_until_signalled(component: AbstractAsyncContextManager[object]) -> None:
    """Start a component that serves on its own (a server), wait for a signal, stop it."""
    async with stop_on_signal() as stop, component:
        await stop.wait()


def _failed(task: "asyncio.Task[object]") -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


@asynccontextmanager
async def running(component: AbstractAsyncContextManager[L]) -> AsyncIterator[L]:
    """The component started and its loop running beside the block (in this event loop);
    on leaving, the loop is told to stop, finishes what it holds, and the component stops.

    A loop that fails cancels the block and its error is raised here, as a task group does:
    whatever the block waits for (the loop's progress, say) will not come."""
    async with component as handle:
        stop = asyncio.Event()
        block = asyncio.current_task()
        task: asyncio.Task[object] = asyncio.create_task(
            handle.run(stop), name=f"{type(handle).__name__}.run"
        )

        def cancel_block(done: "asyncio.Task[object]") -> None:
            if _failed(done) and not stop.is_set() and block is not None:
                block.cancel()

        task.add_done_callback(cancel_block)
        try:
            yield handle
        except asyncio.CancelledError:
            if not _failed(task) or block is None:
                raise
            block.uncancel()  # the loop's error is raised instead, by `await task` below
        finally:
            stop.set()
            await task
