"""`cc_core.acd.eager.start`: the first step runs before `start` returns, the rest as a task."""

from __future__ import annotations

import asyncio

import pytest

from cc_core.acd import eager


async def test_a_coroutine_that_never_waits_is_done_at_once() -> None:
    ran: list[str] = []

    async def job() -> int:
        ran.append("job")
        return 7

    task = eager.start(job())
    assert ran == ["job"]  # before any turn of the loop
    assert await task == 7


async def test_the_first_step_runs_now_and_the_rest_after_the_wait() -> None:
    steps: list[str] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def job() -> str:
        steps.append("before")
        value = await gate
        steps.append("after")
        return value + "!"

    task = eager.start(job())
    assert steps == ["before"]
    assert not task.done()
    gate.set_result("done")
    assert await task == "done!"
    assert steps == ["before", "after"]


async def test_errors_reach_whoever_awaits_the_task() -> None:
    async def fails_at_once() -> None:
        raise ValueError("first step")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    with pytest.raises(ValueError, match="first step"):
        await eager.start(fails_at_once())
    with pytest.raises(KeyError):
        await eager.start(fails_later())


async def test_inside_the_coroutine_its_own_task_is_current() -> None:
    seen: list[asyncio.Task[object] | None] = []

    async def job() -> None:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())

    outer = asyncio.current_task()
    task = eager.start(job())
    assert asyncio.current_task() is outer  # the caller's task is current again
    await task
    assert seen == [task, task]


async def test_started_from_a_plain_callback() -> None:
    loop = asyncio.get_running_loop()
    result: asyncio.Future[asyncio.Task[int]] = loop.create_future()

    async def job() -> int:
        assert asyncio.current_task() is not None
        await asyncio.sleep(0)
        return 3

    loop.call_soon(lambda: result.set_result(eager.start(job())))
    assert await (await result) == 3


async def test_asyncio_timeout_started_in_the_first_step_cancels_only_this_task() -> None:
    async def slow() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "not timed out"

    task = eager.start(slow())
    # The caller goes on waiting past the deadline: it must not be the one cancelled.
    await asyncio.sleep(0.05)
    assert task.done()
    assert task.result() == "timed out"


async def test_cancelling_the_task_reaches_the_coroutine() -> None:
    cleaned: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("finally")

    task = eager.start(waits())
    await asyncio.sleep(0)  # the task is now driving the coroutine
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally"]


async def test_cancelled_before_its_task_ever_ran() -> None:
    cleaned: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append("finally")

    task = eager.start(waits())
    task.cancel()  # no turn of the loop in between
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally"]


async def test_a_coroutine_may_catch_its_cancellation_and_go_on() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0)
            return "finished anyway"
        return "not cancelled"

    task = eager.start(stubborn())
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "finished anyway"


async def test_context_variables_set_inside_stay_inside() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    async def job() -> str:
        token = var.set("inner")
        await asyncio.sleep(0)
        seen = var.get()
        var.reset(token)  # in the context it was set in, across the wait
        return seen

    task = eager.start(job())
    assert var.get() == "outer"
    assert await task == "inner"
