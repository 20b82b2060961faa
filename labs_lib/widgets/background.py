"""Training without freezing the notebook: one background thread per widget, stopped by a flag.

A cell that trains in a loop blocks the kernel, so a click on *Pause* or *Stop* would wait until the loop
ends. The training widgets therefore train in a daemon thread; the kernel's main thread stays free to
handle button clicks, which only set a flag (:attr:`BackgroundTask.stop_requested`). The training loop
looks at the flag between batches and returns, so training ends cleanly after the current batch. TensorFlow
releases Python's global lock while it computes, so the notebook stays responsive while a model trains.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable


class BackgroundTask:
    """Runs one function at a time in a daemon thread; ``request_stop()`` asks it to end at the next check.

    ``work(stop_requested)`` receives a :class:`threading.Event` and should return soon after it is set.
    An exception inside ``work`` is caught, kept in :attr:`error` (with :attr:`traceback`) and passed to
    ``on_error``: it never reaches the notebook.
    """

    def __init__(self, name: str, on_error: Callable[[BaseException], None] | None = None):
        self.name = name
        self.on_error = on_error
        self.stop_requested = threading.Event()
        self.error: BaseException | None = None
        self.traceback: str = ""
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the work function is still running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, work: Callable[[threading.Event], None]) -> bool:
        """Start ``work`` in a new thread; returns False (and starts nothing) when one is already running."""
        with self._lock:
            if self.running:
                return False
            self.stop_requested = threading.Event()
            self.error, self.traceback = None, ""
            stop = self.stop_requested

            def run() -> None:
                try:
                    work(stop)
                except Exception as error:  # noqa: BLE001 - reported in the widget, never raised
                    self.error, self.traceback = error, traceback.format_exc()
                    if self.on_error is not None:
                        self.on_error(error)

            self._thread = threading.Thread(target=run, name=self.name, daemon=True)
            self._thread.start()
            return True

    def request_stop(self) -> None:
        """Ask the running work to end after its current batch (does not wait)."""
        self.stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the work has ended; returns True when it has (False on timeout)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not self.running

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Request a stop and wait for it; returns True when nothing runs any more."""
        self.request_stop()
        return self.wait(timeout)
