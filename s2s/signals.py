"""Stopping cleanly on a signal: SIGINT (Ctrl-C) and SIGTERM set a flag the training loop reads."""

from __future__ import annotations

import signal
import threading


class StopSignals:
    """While active, SIGINT and SIGTERM only set `received`, so that training can save and
    stop between steps; a second signal acts at once (Ctrl-C twice quits without saving)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum
        for sig, handler in self._previous.items():  # the next one is not caught
            signal.signal(sig, handler)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # handlers only work there
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
