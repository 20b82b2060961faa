"""The limits of one submission (:class:`Limits`) and what enforces the ones the sandbox cannot (:class:`Watchdog`).

The sandbox (:mod:`labs_lib.grading.sandbox`) sets the kernel's resource limits (open files, file size, core
dumps, the data segment) before it runs; the watchdog, a thread in the runner, bounds what those cannot:
the wall-clock time of the whole notebook and the resident memory of the kernel's process tree (TensorFlow
reserves far more address space than it uses, so ``RLIMIT_AS`` would break it). It also stops the kernel
when the grader that started the runner is gone. The per-cell timeout is the notebook client's
(:mod:`labs_lib.grading.execute`). This module is light: scoring and the command line import it for the
limits without loading the kernel machinery.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Limits:
    """Limits for one submission; the defaults suit the course's quick mode on a laptop."""

    cell_timeout: float = 120.0  # seconds one cell may run before it is interrupted
    wall_timeout: float = 600.0  # seconds for the whole notebook, all attempts included
    memory_mb: int = 2048  # resident memory of the kernel and its children (the course fits in 2 GB)
    output_kb: int = 1024  # output kept per cell; the rest is dropped (a print loop cannot flood the grader)
    file_size_mb: int = 512  # largest file the kernel may write
    startup_timeout: float = 60.0  # seconds for the kernel to start



class Watchdog(threading.Thread):
    """Kills the kernel's process tree past the wall-clock deadline or the memory limit, or when the
    grader that started this runner is gone."""

    def __init__(self, km: Any, deadline: float, memory_mb: int, parent: int):
        super().__init__(daemon=True, name="labs-grading-watchdog")
        self.km, self.deadline, self.memory_bytes, self.parent = km, deadline, memory_mb * 2**20, parent
        self.reason: str | None = None
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def _pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def kill(self, reason: str) -> None:
        self.reason = self.reason or reason
        pid = self._pid()
        if pid is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)

    @staticmethod
    def _private_bytes(process: Any) -> int:
        """Memory a process holds for itself: anonymous and shared-memory pages (Linux), else its RSS.

        Shared libraries are left out: TensorFlow maps hundreds of MB of them into every process, and
        counting them once per worker process would punish a lesson that starts workers (lesson 13)."""
        try:
            with open(f"/proc/{process.pid}/status", "rb") as f:
                fields = dict(line.split(b":", 1) for line in f if b":" in line)
            return sum(int(fields[key].split()[0]) * 1024 for key in (b"RssAnon", b"RssShmem") if key in fields)
        except (OSError, ValueError, KeyError):
            return process.memory_info().rss

    def _rss(self, pid: int) -> int:
        import psutil

        try:
            root = psutil.Process(pid)
            total = self._private_bytes(root)
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += self._private_bytes(child)
            return total
        except psutil.Error:
            return 0

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            if time.monotonic() > self.deadline:
                self.kill("wall")
            elif self.parent and os.getppid() != self.parent:
                self.kill("orphaned")
            else:
                pid = self._pid()
                if pid is not None:
                    rss = self._rss(pid)
                    self.peak_mb = max(self.peak_mb, rss / 2**20)
                    if rss > self.memory_bytes:
                        self.kill("memory")
