"""Sending edge reports: a sender thread that posts the newest report to the ACD, and the
probe-only loop (microphone and CPU, no SIP) that `cc-phone probe` and the tests run."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from agent_softphone.client import AcdClient, AcdError
from agent_softphone.probe import CpuMeter, MicProbe
from cc_core.acd.agent_quality import EdgeReport
from cc_core.logs import log_event

log = logging.getLogger(__name__)

REPORT_EVERY_S = 2.0


class ReportSender:
    """Posts reports from its own thread; a report waiting when a newer one comes is dropped
    (the ACD wants the present, and a slow ACD must not slow the phone)."""

    def __init__(self, client: AcdClient) -> None:
        self.client = client
        self.sent = 0
        self.failed = 0
        self.last_reply: dict[str, Any] | None = None
        self.last_error: str | None = None
        self._queue: queue.Queue[EdgeReport | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="edge-reports", daemon=True)
        self._thread.start()

    def offer(self, report: EdgeReport) -> None:
        try:
            self._queue.get_nowait()  # drop the stale one
        except queue.Empty:
            pass
        try:
            self._queue.put_nowait(report)
        except queue.Full:
            pass

    def close(self) -> None:
        try:
            self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while (report := self._queue.get()) is not None:
            try:
                self.last_reply = self.client.report(report)
                self.sent += 1
                self.last_error = None
            except AcdError as exc:
                self.failed += 1
                if str(exc) != self.last_error:  # say it once, not every few seconds
                    log_event(log, "phone.report_failed", logging.WARNING, error=str(exc))
                self.last_error = str(exc)


def run_probe(
    mic: Callable[[int], bytes],
    probe: MicProbe,
    sender: ReportSender,
    stop: threading.Event,
    *,
    report_every: float = REPORT_EVERY_S,
    chunk_s: float = 0.1,
    cpu: CpuMeter | None = None,
) -> None:
    """Feed ``mic(samples)`` to the probe in real time and hand a report to ``sender`` every
    ``report_every`` seconds, until ``stop`` is set."""
    cpu = cpu or CpuMeter()
    rate = probe.format.sample_rate
    start = time.monotonic()
    fed = 0  # samples
    next_report = start + report_every
    while not stop.is_set():
        now = time.monotonic()
        due = int((now - start) * rate)
        if due > fed:
            probe.feed(mic(due - fed))
            fed = due
        if now >= next_report:
            next_report += report_every
            load = cpu.load()
            if probe.ready:  # no report on CPU alone while the microphone warms up
                sender.offer(probe.report(cpu_load=load))
        stop.wait(chunk_s)
