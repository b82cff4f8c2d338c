"""A dedicated thread running its own gevent hub, so greenswitch lives beside asyncio.

Nothing is monkey-patched: greenswitch's sockets are gevent's own, and only this thread ever
touches them. Work crosses into the thread with ``hub.loop.run_callback_threadsafe`` (the one
thread-safe entry into a gevent loop) and results come back as ``concurrent.futures.Future``s,
which asyncio awaits through ``asyncio.wrap_future``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
import gevent.event
import gevent.hub

log = logging.getLogger(__name__)

T = TypeVar("T")

# Threads still running at interpreter exit are stopped first: a gevent hub left running in a
# daemon thread while Python finalizes can crash the process.
_RUNNING: weakref.WeakSet[GeventThread] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for thread in list(_RUNNING):
        thread.stop(timeout=2.0)


class GeventThread:
    """One OS thread, one gevent hub; ``submit`` runs a function in a new greenlet there."""

    def __init__(
        self, name: str = "freeswitch-esl", on_exit: Callable[[GeventThread], None] | None = None
    ) -> None:
        self.name = name
        self._on_exit = on_exit
        self._thread: threading.Thread | None = None
        self._hub: gevent.hub.Hub | None = None
        self._ready = threading.Event()
        self._stop: gevent.event.Event | None = None
        self._stopped = False
        # What ended the thread when nobody asked it to (None: still running, or stopped).
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        _RUNNING.add(self)
        if not self._ready.wait(5.0):
            raise RuntimeError(f"{self.name}: the gevent thread did not start")

    def _run(self) -> None:
        hub = gevent.get_hub()
        self._hub = hub
        self._stop = gevent.event.Event()
        self._ready.set()
        try:
            # A timed wait keeps a timer armed, so the hub never sees an empty loop (LoopExit)
            # while no socket is open.
            while not self._stop.wait(timeout=1.0):
                pass
        except BaseException as exc:  # the thread's last word: nobody else would see it
            self.error = exc
            log.error("%s: the gevent thread ended on %r", self.name, exc, exc_info=True)
        finally:
            self._hub = None
            _RUNNING.discard(self)
            try:
                hub.destroy(destroy_loop=True)
            except Exception:
                log.exception("%s: destroying the gevent hub failed", self.name)
            if self._on_exit is not None:
                try:
                    self._on_exit(self)
                except Exception:
                    log.exception("%s: exit callback failed", self.name)

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn()`` in a new greenlet of the thread; its result or exception lands in the
        returned future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # every outcome, even a kill, goes to the caller
                if isinstance(exc, gevent.GreenletExit):
                    future.set_exception(RuntimeError(f"{self.name}: job killed"))
                else:
                    future.set_exception(exc)

        self.call(lambda: gevent.spawn(job))
        return future

    def call(self, fn: Callable[[], Any]) -> None:
        """Schedule ``fn()`` on the hub (it must not block; spawn a greenlet for that)."""
        hub = self._hub
        loop = hub.loop if hub is not None else None
        if loop is None or self._stopped:
            raise RuntimeError(f"{self.name}: the gevent thread is not running")
        try:
            loop.run_callback_threadsafe(fn)
        except Exception as exc:  # the hub ended between the check and the call
            raise RuntimeError(f"{self.name}: the gevent thread is not running") from exc

    def request_stop(self) -> None:
        """Ask the thread to end (returns at once); greenlets still alive die with the hub."""
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        _RUNNING.discard(self)
        stop, hub = self._stop, self._hub
        if stop is not None and hub is not None and self._thread.is_alive():
            # The hub may end on its own meanwhile (then there is nothing left to stop).
            try:
                hub.loop.run_callback_threadsafe(stop.set)
            except Exception as exc:
                log.debug("%s: stop request not delivered: %r", self.name, exc)

    @property
    def stop_requested(self) -> bool:
        return self._stopped

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread and wait for it (blocking)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s: the gevent thread did not end within %g s", self.name, timeout)
