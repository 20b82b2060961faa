"""Execute a grading copy once, with papermill, in a sandboxed kernel, and record what every cell did.

:func:`execute` starts the kernel through :mod:`labs_lib.grading.sandbox` (:class:`SandboxKernelManager`)
and runs the notebook with papermill (``QUICK``, ``SEED`` and the instructor's ``-p`` values injected
after the ``parameters`` cell) through :class:`GradingClient`, papermill's client with four changes:

- errors do not stop the run (every exercise is scored on its own);
- a cell past the per-cell timeout is interrupted and the run goes on; if it ignores the interrupt,
  the kernel is stopped;
- outputs are capped per cell (a print loop cannot flood the grader);
- every cell's outcome (the kernel's execute reply, its error, its duration) is recorded as it runs;
  the grader's own cells and the tests stay out of IPython's history.

A :class:`~labs_lib.grading.limits.Watchdog` thread stops the kernel's whole process tree at the wall-clock
deadline or past the memory limit. Only the outputs of the student's own cells are kept, as text and PNG, capped and with
any line of hidden test code removed: they are what the feedback page shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from labs_lib.grading import sandbox
from labs_lib.grading.limits import Limits, Watchdog

TEXT_LIMIT = 20_000  # characters of one student cell's text output kept for the feedback page
IMAGE_LIMIT = 400_000  # bytes of a base64 PNG kept for the feedback page
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}
ENGINE = "labs-grading"
NO_HISTORY = {"bootstrap", "snapshot", "restore", "guard", "tests", "verify"}


# ---------------------------------------------------------------------------------------------------
# The kernel manager and the notebook client


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """Starts ``ipykernel`` through :mod:`labs_lib.grading.sandbox` with a scrubbed environment."""

        def __init__(self, *, policy: sandbox.SandboxPolicy, env: dict[str, str], log_file: Any, **kwargs: Any):
            super().__init__(**kwargs)
            self._policy, self._env, self._log_file = policy, env, log_file

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return [sys.executable, "-m", "labs_lib.grading.sandbox", self._policy.to_json(), "--",
                    "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]

        async def _async_pre_start_kernel(self, **kw: Any):
            kw.update(env=dict(self._env), cwd=self._policy.home, stdout=self._log_file, stderr=self._log_file)
            return await super()._async_pre_start_kernel(**kw)

    return SandboxKernelManager


def _client_class():
    from nbclient.exceptions import DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient

    class GradingClient(PapermillNotebookClient):
        """papermill's client, plus: per-cell records, capped outputs, interrupt-then-kill on timeout."""

        def __init__(self, nb_man: Any, output_bytes: int = 2**20, **kw: Any):
            super().__init__(nb_man, **kw)
            self.output_bytes = output_bytes
            self.records: dict[int, dict[str, Any]] = {}
            self.current: int | None = None
            self.interrupted: set[int] = set()
            self._sizes: dict[int, int] = {}

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            if cell.cell_type != "code" or not cell.source.strip():
                return cell
            if cell.metadata.get("labs_grading", {}).get("kind") in NO_HISTORY:
                store_history = False  # neither the tests nor the grader's cells go into In/Out/_i
            self.current = cell_index
            start = time.monotonic()
            # the cell object itself: papermill inserts marker cells into the notebook after a failed run
            record = self.records[cell_index] = {"status": "running", "seconds": 0.0, "cell": cell}
            try:
                result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            finally:
                record["seconds"] = round(time.monotonic() - start, 3)
            return result

        from nbclient.util import run_sync as _run_sync

        execute_cell = _run_sync(async_execute_cell)  # the base class binds its own coroutine

        async def _async_handle_timeout(self, timeout, cell=None):
            index = self.current if self.current is not None else -1
            if index in self.interrupted:  # it ignored the interrupt: stop the kernel
                self.records.setdefault(index, {})["killed"] = True
                with contextlib.suppress(Exception):
                    await self.km.shutdown_kernel(now=True)
                raise DeadKernelError("the cell ignored the interrupt after its timeout")
            self.interrupted.add(index)
            self.records.setdefault(index, {})["timed_out"] = True
            await self.km.interrupt_kernel()
            return None

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = len(json.dumps(content, default=str))
            used = self._sizes.get(cell_index, 0)
            self._sizes[cell_index] = used + size
            if used + size <= self.output_bytes:
                return super().output(outs, msg, display_id, cell_index)
            record = self.records.setdefault(cell_index, {})
            room = self.output_bytes - used
            if msg.get("msg_type") == "stream" and room > 1000:  # keep the start of a long print
                text = str(content.get("text", ""))[: room - 200]
                record["truncated"] = record.get("truncated", 0) + size - len(text)
                return super().output(outs, {**msg, "content": {**content, "text": text}}, display_id, cell_index)
            record["truncated"] = record.get("truncated", 0) + size
            return None

    return GradingClient


def _register_engine() -> None:
    from papermill.engines import NBClientEngine, papermill_engines

    if ENGINE in papermill_engines._engines:
        return

    class GradingEngine(NBClientEngine):
        """papermill's nbclient engine with :class:`GradingClient`."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, **kwargs):
            from papermill.engines import logger

            client = kwargs.pop("client_holder")
            kwargs.pop("input_path", None)
            nb_client = _client_class()(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                        kernel_name=kernel_name, log=logger, log_output=log_output,
                                        stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.append(nb_client)
            return nb_client.execute()

    papermill_engines.register(ENGINE, GradingEngine)


# ---------------------------------------------------------------------------------------------------
# One attempt: execute the notebook once


def _strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _redact(text: str, hidden_lines: list[str]) -> str:
    for line in hidden_lines:
        if line in text:
            text = text.replace(line, "[hidden test code removed]")
    return text


def _student_outputs(cell: Any, hidden_lines: list[str]) -> list[dict[str, str]]:
    """A student cell's outputs for the feedback page: text and PNG only, capped and redacted."""
    shown: list[dict[str, str]] = []
    budget = TEXT_LIMIT
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        text = ""
        if kind == "stream":
            text = out.get("text", "")
        elif kind == "error":
            text = _strip_ansi("\n".join(out.get("traceback", []))) or f"{out.get('ename')}: {out.get('evalue')}"
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            png = data.get("image/png")
            if isinstance(png, str) and len(png) <= IMAGE_LIMIT:
                shown.append({"type": "image", "data": png.strip()})
                continue
            text = data.get("text/plain", "")
        if isinstance(text, list):
            text = "".join(text)
        if text and budget > 0:
            text = _redact(_strip_ansi(str(text)), hidden_lines)
            shown.append({"type": "text", "text": text[:budget] + ("\n[... output cut]" if len(text) > budget else "")})
            budget -= len(text)
    return shown


def _error_of(cell: Any, reply: dict | None) -> tuple[str, str] | None:
    content = (reply or {}).get("content", {})
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return str(out.get("ename", "Error")), _strip_ansi(str(out.get("evalue", "")))
    if content.get("status") not in (None, "ok"):
        return str(content.get("ename", "Error")), _strip_ansi(str(content.get("evalue", "")))
    return None


def execute(nb: Any, job: dict, limits: Limits, deadline: float, workdir: Path, mode: str) -> dict[str, Any]:
    """Run ``nb`` once in a fresh sandboxed kernel; return per-cell records and how the run ended."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    _register_engine()
    for sub in ("home", "sock"):
        shutil.rmtree(workdir / sub, ignore_errors=True)
        (workdir / sub).mkdir(parents=True)
    shutil.rmtree(str(workdir / "home") + ".root", ignore_errors=True)
    home, sock = str(workdir / "home"), str(workdir / "sock")
    _seed_matplotlib_cache(Path(home))
    policy = sandbox.SandboxPolicy(
        mode=mode, home=home, writable=[sock],
        readonly=sandbox.readonly_paths(job.get("readonly", [])) if mode == "namespace" else [],
        hidden=job.get("hidden", []) if mode == "audit" else [],
        file_size_mb=limits.file_size_mb, data_mb=4 * limits.memory_mb,
    )
    env = sandbox.scrubbed_environment(home, threads=int(job.get("threads", 1)))
    log_path = workdir / "kernel.log"
    records: dict[int, dict[str, Any]] = {}
    ended: dict[str, Any] = {"how": "completed"}
    holder: list[Any] = []
    with open(log_path, "wb") as log_file:
        km_kwargs: dict[str, Any] = {"kernel_name": "python3", "connection_file": f"{sock}/kernel.json"}
        if mode == "namespace":  # no network inside: talk over Unix sockets
            km_kwargs.update(transport="ipc", ip=f"{sock}/kernel")
        km = _kernel_manager_class()(policy=policy, env=env, log_file=log_file, **km_kwargs)
        watchdog = Watchdog(km, deadline, limits.memory_mb, int(job.get("parent_pid", 0)))
        watchdog.start()

        def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict) -> None:
            client = holder[0]
            client.records.setdefault(cell_index, {})["reply"] = execute_reply

        try:
            papermill.execute_notebook(
                nb, None, parameters=job.get("parameters", {}), engine_name=ENGINE, kernel_name="python3",
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                start_timeout=int(limits.startup_timeout), execution_timeout=int(limits.cell_timeout),
                km=km, client_holder=holder, allow_errors=True, interrupt_on_timeout=True,
                on_cell_executed=on_cell_executed, output_bytes=limits.output_kb * 1024,
                extra_arguments=["--InteractiveShellApp.ignore_cwd=True"], raise_on_iopub_timeout=False,
                iopub_timeout=10,
            )
        except PapermillExecutionError:
            pass  # errors in cells are expected; every cell's outcome is in the records
        except DeadKernelError:
            ended = {"how": "died"}
        except Exception as error:  # noqa: BLE001 - the kernel failed to start, papermill failed, ...
            ended = {"how": "error", "detail": f"{type(error).__name__}: {error}"}
        finally:
            watchdog.stop()
            client = holder[0] if holder else None
            if client is not None:
                with contextlib.suppress(Exception):
                    client._cleanup_kernel()
            watchdog.kill("cleanup")
        if client is not None:
            running = client.records.get(client.current, {}).get("cell")
            ended["cell"] = dict(running.metadata.get("labs_grading", {})) if running is not None else {}
            for index, record in client.records.items():
                cell = record.get("cell")
                if cell is None:
                    continue
                meta = cell.metadata.get("labs_grading", {})
                reply = record.get("reply")
                error = _error_of(cell, reply)
                finished = reply is not None
                records[index] = {
                    "kind": meta.get("kind", "parameters"), "exercise": meta.get("exercise"),
                    "source_index": meta.get("source_index"),
                    "status": ("error" if error else "ok") if finished else "unfinished",
                    "ename": error[0] if error else None, "evalue": error[1] if error else None,
                    "seconds": record.get("seconds", 0.0), "timed_out": bool(record.get("timed_out")),
                    "killed": bool(record.get("killed")), "truncated": record.get("truncated", 0),
                    "guard": [o.get("data", {}).get("application/vnd.labs.guard+json") for o in cell.get("outputs", [])
                              if "application/vnd.labs.guard+json" in o.get("data", {})],
                    "outputs": _student_outputs(cell, job.get("hidden_lines", []))
                    if meta.get("kind") in ("solution", "added", "stub") else [],
                }
        ended["reason"] = watchdog.reason if watchdog.reason not in (None, "cleanup") else None
        ended["peak_mb"] = round(watchdog.peak_mb, 1)
        if ended["how"] == "died" and not ended["reason"]:
            ended["exit"] = _exit_description(km)
    ended["log_tail"] = log_path.read_bytes()[-2000:].decode("utf-8", "replace") if log_path.exists() else ""
    last = [line for line in ended["log_tail"].splitlines() if line.strip()][-1:]
    if ended["how"] == "error" and last:  # e.g. the sandbox could not start: say why
        ended["detail"] = f"{ended.get('detail')} (kernel log: {last[0].strip()[:300]})"
    return {"records": records, "ended": ended}


def _exit_description(km: Any) -> str:
    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = None
    if process is not None:
        with contextlib.suppress(Exception):
            code = process.wait(timeout=5)
    if code is None:
        return "the kernel died"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        name = SIGNAL_NAMES.get(number, f"signal {number}")
        what = " (a segmentation fault)" if name == "SIGSEGV" else ""
        return f"the kernel was killed by {name}{what}"
    return f"the kernel exited with status {code} (os._exit, exit() or a crash)"


def _seed_matplotlib_cache(home: Path) -> None:
    """Copy matplotlib's font list into the kernel's config folder so it is not rebuilt for every submission."""
    candidates = [os.environ.get("MPLCONFIGDIR", ""), str(Path.home() / ".cache" / "matplotlib"),
                  str(Path.home() / ".matplotlib")]
    target = home / ".config" / "matplotlib"
    target.mkdir(parents=True, exist_ok=True)
    for folder in candidates:
        if folder and Path(folder).is_dir():
            for font_list in Path(folder).glob("fontlist-*.json"):
                with contextlib.suppress(OSError):
                    shutil.copy2(font_list, target / font_list.name)
            if any(target.glob("fontlist-*.json")):
                return
