"""Waiting and cancelling asyncio tasks reliably (the worker's loops and turns).

On Python 3.11, ``asyncio.wait_for`` (used inside redis-py) can swallow a cancellation that arrives
just as a Redis reply does; the cancelled task then carries on as if nothing happened. So loops
also check ``cancel_requested()`` and shutdown cancels again until the task has really ended.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` seconds pass, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()


async def cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel and await tasks, cancelling again while any is still running (see module doc)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    await asyncio.gather(*tasks, return_exceptions=True)


def cancel_requested() -> bool:
    """True if the current task was asked to cancel, even if that CancelledError got swallowed."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
