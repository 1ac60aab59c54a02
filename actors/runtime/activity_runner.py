"""Drives one activity to completion, whatever shape it has.

    plain function      runs in the host's thread pool (blocking SDK calls are fine)
    coroutine function  awaited on the loop
    generator           each next() runs in the thread pool; poll_interval between steps
    async generator     iterated on the loop; poll_interval between steps

The whole activity runs under the plugin's timeout; on timeout or cancellation a
generator is closed so its ``finally`` blocks clean up what it created.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from concurrent.futures import Executor
from enum import Enum
from typing import Any

from actors.errors import ActivityTimeout


class ActivityKind(Enum):
    """The shape of an activity callable."""

    FUNCTION = "function"
    COROUTINE = "coroutine"
    GENERATOR = "generator"
    ASYNC_GENERATOR = "async_generator"


@functools.cache
def _kind_of_function(function: Callable[..., Any]) -> ActivityKind:
    if inspect.isasyncgenfunction(function):
        return ActivityKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(function):
        return ActivityKind.COROUTINE
    if inspect.isgeneratorfunction(function):
        return ActivityKind.GENERATOR
    return ActivityKind.FUNCTION


def activity_kind(activity: Callable[..., Any]) -> ActivityKind:
    """Classify an activity (bound methods are classified by their function, cached)."""
    return _kind_of_function(getattr(activity, "__func__", activity))


_EXHAUSTED = object()


def _step(generator: Generator[Any, Any, Any]) -> object:
    try:
        return next(generator)
    except StopIteration:
        return _EXHAUSTED


class ActivityRunner:
    """Runs activities with a timeout, off the loop where they would block it."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # keeps structlog's bound fields in the thread
        return await loop.run_in_executor(self._executor, functools.partial(context.run,
                                                                             function, *args))

    async def run(self, activity: Callable[..., Any], args: tuple[Any, ...], *,
                  timeout: float | None, poll_interval: float, label: str) -> None:
        """Run ``activity(*args)`` to its end.

        Raises:
            ActivityTimeout: if it runs past ``timeout`` seconds (the message names ``label``).
            Exception: whatever the activity raises.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._drive(activity, args, poll_interval)
        except TimeoutError as error:
            raise ActivityTimeout(f"{label} ran past its timeout of {timeout:g} s") from error

    async def _drive(self, activity: Callable[..., Any], args: tuple[Any, ...],
                     poll_interval: float) -> None:
        kind = activity_kind(activity)
        if kind is ActivityKind.COROUTINE:
            await activity(*args)
        elif kind is ActivityKind.ASYNC_GENERATOR:
            await self._drive_async_generator(activity(*args), poll_interval)
        elif kind is ActivityKind.GENERATOR:
            await self._drive_generator(activity(*args), poll_interval)
        else:
            result = await self._in_thread(activity, *args)
            if inspect.isawaitable(result):  # a function that returns a coroutine
                await result

    async def _drive_generator(self, generator: Generator[Any, Any, Any],
                               poll_interval: float) -> None:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        pending: asyncio.Future[object] | None = None
        try:
            while True:
                pending = loop.run_in_executor(self._executor, context.run, _step, generator)
                # shield: a timeout must not orphan the step; the thread finishes it anyway
                if await asyncio.shield(pending) is _EXHAUSTED:
                    return
                pending = None
                await asyncio.sleep(poll_interval)
        finally:
            # close() runs the generator's finally blocks, its own clean-up; a generator
            # cannot be closed while next() still runs in a thread, so wait for that step.
            if pending is None or pending.done():
                await self._in_thread(generator.close)
            else:
                pending.add_done_callback(
                    lambda _: loop.run_in_executor(self._executor, generator.close))

    async def _drive_async_generator(self, generator: AsyncGenerator[Any, Any],
                                     poll_interval: float) -> None:
        try:
            async for _ in generator:
                await asyncio.sleep(poll_interval)
        finally:
            await generator.aclose()
