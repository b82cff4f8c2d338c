"""Start a coroutine at once: its first step runs in the caller's turn of the event loop.

`asyncio.create_task` only schedules a coroutine: it starts on the loop's next turn, after
every callback already due. For the ACD that turn is the latency: the routing decision and
the PBX command it leads to wait behind whatever else the loop has to do (AMI events,
IVR sessions, the journal). Started eagerly, a job that does not wait for I/O is done, and
its command written to the socket, before `start` returns.

Python 3.12 does this itself (``Task(..., eager_start=True)``). On 3.11 the same is done
here: the task is created first, the coroutine's first step runs with that task as the
loop's current task (so `asyncio.timeout`, `current_task` and cancellation behave as in any
task), and the task's own first scheduled step carries on from where that step stopped.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

_NATIVE = sys.version_info >= (3, 12)


def start(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """A task for ``coro`` whose first step has already run (it may be done already)."""
    loop = asyncio.get_running_loop()
    if _NATIVE:
        return asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg]
    step = _FirstStep(coro)
    # The task's own copy of the context, for the first step too (as in a task, what the
    # coroutine sets in a context variable does not leak to the caller).
    context = contextvars.copy_context()
    task: asyncio.Task[T] = loop.create_task(step.finish(), name=name, context=context)
    step.run(loop, task, context)
    if not step.done:
        task.add_done_callback(step.abandoned)
    return task


class _FirstStep:
    """One coroutine: its first step run by hand, the rest driven inside its task."""

    __slots__ = ("coro", "done", "error", "result", "waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.waiting_on: Any = None

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[Any],
        context: contextvars.Context,
    ) -> None:
        # The task is the current one while its coroutine runs, as it would be in the task.
        outer = asyncio.current_task(loop)
        if outer is not None:
            asyncio.tasks._leave_task(loop, outer)
        asyncio.tasks._enter_task(loop, task)
        try:
            self.waiting_on = context.run(self.coro.send, None)
        except StopIteration as stop:
            self.done, self.result = True, stop.value
        except BaseException as exc:  # handed to the task, which raises it to its awaiters
            self.done, self.error = True, exc
        finally:
            asyncio.tasks._leave_task(loop, task)
            if outer is not None:
                asyncio.tasks._enter_task(loop, outer)

    def abandoned(self, task: asyncio.Task[Any]) -> None:
        # Cancelled before its first scheduled step: `finish` never ran, so the coroutine
        # still waits where its first step stopped; close it (its finally blocks run).
        if task.cancelled() and self.coro.cr_frame is not None:
            self.coro.close()

    async def finish(self) -> Any:
        if self.done:
            if self.error is not None:
                raise self.error
            return self.result
        coro, waiting_on = self.coro, self.waiting_on
        while True:
            # What the coroutine yielded: a future it waits for (asyncio's protocol), or None
            # for a bare turn of the loop (`asyncio.sleep(0)`).
            error: BaseException | None = None
            try:
                if waiting_on is None:
                    await asyncio.sleep(0)
                else:
                    await _Wait(waiting_on)
            except asyncio.CancelledError as cancelled:
                # This task was cancelled while the coroutine waited. A cancelled future
                # tells the coroutine itself; otherwise it gets the error where it waits.
                if waiting_on is None or not waiting_on.done():
                    error = cancelled
            try:
                waiting_on = coro.send(None) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value


class _Wait:
    """Await a future without taking its result: the coroutine that yielded it reads it."""

    __slots__ = ("future",)

    def __init__(self, future: Any) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        if not self.future.done():
            self.future._asyncio_future_blocking = True
            yield self.future
