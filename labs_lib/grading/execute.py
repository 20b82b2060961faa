"""Execute a grading copy once, with papermill, in a sandboxed kernel, and record what every cell did.

:func:`execute` starts the kernel through :mod:`labs_lib.grading.sandbox` and runs the notebook with
papermill (``QUICK``, ``SEED`` and the instructor's ``-p`` values injected after the ``parameters`` cell)
through papermill's engine entry point: :class:`GradingEngine` is registered under :data:`ENGINE` and runs
:class:`GradingClient`, an ``nbclient.NotebookClient`` with four changes:

- errors do not stop the run (every exercise is scored on its own);
- a cell past the per-cell timeout is interrupted and the run goes on; if it ignores the interrupt,
  the kernel is stopped;
- outputs are capped per cell (a print loop cannot flood the grader);
- every cell's outcome (the kernel's execute reply, its error, its duration) is recorded as it runs;
  the grader's own cells and the tests stay out of IPython's history.

Only public APIs of papermill, nbclient and jupyter_client are used (no underscore method or module); the
public methods the grader overrides or relies on are listed in :data:`HOOKS` and checked before the first
run (:func:`require_hooks`), so an upgrade that changes one stops grading with a message instead of
grading wrongly. tests/test_grading_hooks.py checks the same list.

A :class:`~labs_lib.grading.limits.Watchdog` thread stops the kernel's whole process tree at the wall-clock
deadline or past the memory limit. Only the outputs of the student's own cells are kept, as text and PNG, capped and with
any line of hidden test code removed: they are what the feedback page shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs_lib import nbexec
from labs_lib.grading import sandbox
from labs_lib.grading.limits import Limits, Watchdog
from labs_lib.grading.vocab import STUDENT_CELLS

TEXT_LIMIT = 20_000  # characters of one student cell's text output kept for the feedback page
IMAGE_LIMIT = 400_000  # bytes of a base64 PNG kept for the feedback page
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}
ENGINE = "labs-grading"
NO_HISTORY = {"bootstrap", "snapshot", "restore", "guard", "tests", "verify"}
THIS_FILE = "labs_lib/grading/execute.py"


# ---------------------------------------------------------------------------------------------------
# What the grader relies on in papermill, nbclient and jupyter_client


@dataclass(frozen=True)
class Hook:
    """A public method (or attribute) of a dependency that the grader overrides or relies on.

    ``target`` is ``"module:Class.attribute"``. ``parameters`` are the parameter names the grader relies on:
    with ``exact`` (a method the grader overrides, which the dependency calls) the signature must have
    exactly these, in this order; otherwise they must be among its parameters (a method the grader calls).
    ``source`` is a string the method's source must contain: behaviour a signature cannot show.
    """

    target: str
    parameters: tuple[str, ...] | None
    used_for: str
    exact: bool = False
    source: str | None = None

    @property
    def package(self) -> str:
        """The distribution that provides the hook (its top-level module's name)."""
        return self.target.split(":")[0].split(".")[0]


HOOKS: tuple[Hook, ...] = (
    # jupyter_client: the kernel manager (https://jupyter-client.readthedocs.io, "Kernel management" API)
    Hook("jupyter_client.manager:AsyncKernelManager.format_kernel_cmd", ("self", "extra_arguments"),
         "SandboxKernelManager overrides it: the kernel runs inside the sandbox wrapper", exact=True),
    Hook("jupyter_client.provisioning.local_provisioner:LocalProvisioner.pre_launch", None,
         "the local provisioner builds the kernel's command with km.format_kernel_cmd", source="format_kernel_cmd"),
    Hook("jupyter_client.manager:AsyncKernelManager.start_kernel", ("self", "kw"),
         "the kernel's env, cwd, stdout and stderr are start_kernel's keyword arguments (passed on to Popen)"),
    Hook("jupyter_client.manager:AsyncKernelManager.interrupt_kernel", ("self",),
         "a cell past the per-cell limit is interrupted"),
    Hook("jupyter_client.manager:AsyncKernelManager.signal_kernel", ("self", "signum"),
         "a kernel that ignores the interrupt is asked for its stacks before it is stopped"),
    Hook("jupyter_client.manager:AsyncKernelManager.shutdown_kernel", ("self", "now"),
         "a cell that ignores the interrupt is stopped"),
    Hook("jupyter_client.provisioning.local_provisioner:LocalProvisioner.process", None,
         "the Watchdog and the exit status read the kernel's process (km.provisioner.process)"),
    # nbclient: the notebook client (https://nbclient.readthedocs.io, "Executing notebooks" and its options)
    Hook("nbclient:NotebookClient.__init__", ("self", "nb", "km", "kw"), "GradingClient subclasses it", exact=True),
    Hook("nbclient:NotebookClient.async_execute_cell", ("self", "cell", "cell_index", "execution_count",
                                                        "store_history"),
         "GradingClient overrides it: per-cell records, the per-cell limit, no history for the grader's cells",
         exact=True),
    Hook("nbclient:NotebookClient.async_execute", ("self", "reset_kc", "kwargs"),
         "execute() runs every cell through self.async_execute_cell", source="self.async_execute_cell"),
    Hook("nbclient:NotebookClient.async_setup_kernel", ("self", "kwargs"),
         "execute(cleanup_kc=True, env=..., ...) stops the grader's own kernel manager at the end and passes the "
         "rest to start_kernel", source="cleanup_kc"),
    Hook("nbclient:NotebookClient.on_comm_open_jupyter_widget", None,
         "an empty widget_registry switches off the Output-widget emulation (labs_lib.nbexec)",
         source="self.widget_registry"),
    Hook("nbclient:NotebookClient.output", ("self", "outs", "msg", "display_id", "cell_index"),
         "GradingClient overrides it: outputs are capped per cell", exact=True),
    Hook("nbclient:NotebookClient.on_cell_executed", None, "execute() records each cell's execute reply"),
    # papermill: parameters and the engine entry point (https://papermill.readthedocs.io, "Extending papermill")
    Hook("papermill.engines:Engine.execute_managed_notebook", ("nb_man", "kernel_name", "kwargs"),
         "GradingEngine overrides it (papermill's engine API)", exact=True),
    Hook("papermill.engines:papermill_engines.register", ("name", "engine"), "the grading engine is registered"),
    Hook("papermill.engines:NotebookExecutionManager.cell_start", ("self", "cell", "cell_index"),
         "papermill's per-cell bookkeeping, as its own engine does it"),
    Hook("papermill.engines:NotebookExecutionManager.cell_complete", ("self", "cell", "cell_index"),
         "papermill's per-cell bookkeeping, as its own engine does it"),
)


def _resolve(target: str) -> Any:
    module_name, _, path = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def check_hook(hook: Hook) -> str | None:
    """What is wrong with ``hook`` in the installed packages (``None`` if nothing), naming what to fix."""
    where = f"{hook.package} {_version(hook.package)}"
    fix = f"update {THIS_FILE} (the grader relies on it: {hook.used_for})"
    try:
        value = _resolve(hook.target)
    except (ImportError, AttributeError):
        return f"{hook.target} is gone in {where}; {fix}"
    if hook.parameters is not None:
        try:
            found = tuple(inspect.signature(value).parameters)
        except (TypeError, ValueError):
            return f"{hook.target} in {where} has no readable signature; {fix}"
        if hook.exact and found != hook.parameters:
            return f"{hook.target} in {where} takes {found}, not {hook.parameters}; {fix}"
        if not hook.exact and not set(hook.parameters) <= set(found):
            missing = sorted(set(hook.parameters) - set(found))
            return f"{hook.target} in {where} no longer takes {', '.join(missing)}; {fix}"
    if hook.source is not None:
        try:
            text = inspect.getsource(value)
        except (OSError, TypeError):
            return f"{hook.target} in {where} has no readable source; {fix}"
        if hook.source not in text:
            return f"{hook.target} in {where} no longer uses {hook.source!r}; {fix}"
    return None


@functools.cache
def require_hooks() -> None:
    """Raise :class:`RuntimeError` if papermill, nbclient or jupyter_client changed what the grader relies on."""
    problems = [problem for problem in map(check_hook, HOOKS) if problem]
    if problems:
        raise RuntimeError("labs grade cannot run with the installed notebook packages:\n- " + "\n- ".join(problems)
                           + "\nInstall the versions binder/environment.yml pins, or update the grader.")


# ---------------------------------------------------------------------------------------------------
# The kernel manager, the notebook client and the papermill engine


@functools.cache
def _kernel_manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """Starts ``ipykernel`` inside :mod:`labs_lib.grading.sandbox`.

        The environment, working folder and log file are not set here: they are ``start_kernel``'s
        keyword arguments (:func:`kernel_launch_options`), which jupyter_client passes on to ``Popen``.
        """

        def __init__(self, *, sandbox_policy: sandbox.SandboxPolicy, **kwargs: Any):
            super().__init__(**kwargs)
            self.sandbox_policy = sandbox_policy

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return [sys.executable, "-m", "labs_lib.grading.sandbox", self.sandbox_policy.to_json(), "--",
                    "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]

    return SandboxKernelManager


def kernel_launch_options(policy: sandbox.SandboxPolicy, env: dict[str, str], log_file: Any) -> dict[str, Any]:
    """``start_kernel`` keyword arguments: the scrubbed environment, the sandbox's home, the kernel log.

    jupyter_client documents ``KernelManager.start_kernel(**kw)`` as passing ``kw`` on to launch the kernel
    (``Popen``'s ``env``, ``cwd``, ``stdout``, ``stderr``); nbclient documents ``NotebookClient.execute(**kwargs)``
    as passing its keyword arguments on to ``start_kernel``.
    """
    return {"env": dict(env), "cwd": policy.home, "stdout": log_file, "stderr": log_file}


LOG_TAIL_BYTES = 12_000  # of the kernel log, kept with a run: room for the stacks of a kernel that was stopped


@functools.cache
def _client_class() -> type:
    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        """nbclient's client, plus: per-cell records, capped outputs, interrupt-then-kill past the per-cell limit.

        nbclient's own ``timeout`` is off: with ``interrupt_on_timeout`` it would interrupt a cell that ignores
        the interrupt again and again, never stopping it; :meth:`limit_cell_time` interrupts once and then stops
        the kernel, through the kernel manager's public ``interrupt_kernel`` and ``shutdown_kernel``.
        """

        def __init__(self, nb_man: Any, *, cell_timeout: float | None = None, output_bytes: int = 2**20, **kw: Any):
            super().__init__(nb_man.nb, timeout=None, **kw)
            nbexec.without_output_widget_emulation(self)  # it can leave a widget's cell waiting for ever
            self.nb_man = nb_man
            self.cell_timeout = cell_timeout
            self.output_bytes = output_bytes
            self.records: dict[int, dict[str, Any]] = {}
            self.current: int | None = None
            self.output_sizes: dict[int, int] = {}

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            self.nb_man.cell_start(cell, cell_index)  # papermill's bookkeeping, as its own client does it
            try:
                if cell.cell_type != "code" or not cell.source.strip():
                    return cell
                if cell.metadata.get("labs_grading", {}).get("kind") in NO_HISTORY:
                    store_history = False  # neither the tests nor the grader's cells go into In/Out/_i
                self.current = cell_index
                start = time.monotonic()
                # the cell object itself: papermill inserts marker cells into the notebook after a failed run
                record = self.records[cell_index] = {"status": "running", "seconds": 0.0, "cell": cell}
                timer = asyncio.ensure_future(self.limit_cell_time(cell_index))
                try:
                    return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
                finally:
                    timer.cancel()
                    record["seconds"] = round(time.monotonic() - start, 3)
            finally:
                self.nb_man.cell_complete(cell, cell_index=cell_index)

        async def limit_cell_time(self, cell_index: int) -> None:
            """Interrupt the cell at the per-cell limit; stop the kernel if it still runs one limit later.

            Once the kernel is stopped, nbclient's liveness check ends the cell with ``DeadKernelError``."""
            if not self.cell_timeout or self.cell_timeout <= 0:
                return
            await asyncio.sleep(self.cell_timeout)
            record = self.records.setdefault(cell_index, {})
            record["timed_out"] = True
            with contextlib.suppress(Exception):  # a kernel that is already gone cannot be interrupted
                await self.km.interrupt_kernel()
            await asyncio.sleep(self.cell_timeout)
            record["killed"] = True  # it ignored the interrupt: stop the kernel
            with contextlib.suppress(Exception):  # first ask it where it is stuck (stacks to the kernel log)
                await self.km.signal_kernel(sandbox.STACKS_SIGNAL)
                await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await self.km.shutdown_kernel(now=True)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = len(json.dumps(content, default=str))
            used = self.output_sizes.get(cell_index, 0)
            self.output_sizes[cell_index] = used + size
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


@functools.cache
def _engine_class() -> type:
    from papermill.engines import Engine

    class GradingEngine(Engine):
        """papermill engine (its documented extension point) that runs :class:`GradingClient`."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            # papermill passes these to every engine; GradingClient has no use for them
            for unused in ("input_path", "log_output", "stdout_file", "stderr_file"):
                kwargs.pop(unused, None)
            holder, launch = kwargs.pop("client_holder"), kwargs.pop("kernel_launch")
            client = _client_class()(nb_man, cell_timeout=kwargs.pop("execution_timeout", None),
                                     startup_timeout=kwargs.pop("start_timeout", 60), kernel_name=kernel_name,
                                     log=logging.getLogger("papermill"), **kwargs)
            holder.append(client)
            # cleanup_kc: nbclient stops the kernel at the end even though the grader made the kernel manager
            return client.execute(cleanup_kc=True, **launch)

    return GradingEngine


def _register_engine() -> None:
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE, _engine_class())  # the same class again: registering it is idempotent


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

    require_hooks()
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
        km = _kernel_manager_class()(sandbox_policy=policy, **km_kwargs)
        watchdog = Watchdog(km, deadline, limits.memory_mb, int(job.get("parent_pid", 0)))
        watchdog.start()

        def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict) -> None:
            client = holder[0]
            client.records.setdefault(cell_index, {})["reply"] = execute_reply

        try:
            papermill.execute_notebook(
                nb, None, parameters=job.get("parameters", {}), engine_name=ENGINE, kernel_name="python3",
                progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                start_timeout=int(limits.startup_timeout), execution_timeout=float(limits.cell_timeout),
                km=km, kernel_launch=kernel_launch_options(policy, env, log_file), client_holder=holder,
                allow_errors=True,
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
            watchdog.stop()  # nbclient has stopped the kernel (cleanup_kc); whatever it left behind is killed now
            client = holder[0] if holder else None
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
                    if meta.get("kind") in STUDENT_CELLS else [],
                }
        ended["reason"] = watchdog.reason if watchdog.reason not in (None, "cleanup") else None
        ended["peak_mb"] = round(watchdog.peak_mb, 1)
        if ended["how"] == "died" and not ended["reason"]:
            ended["exit"] = _exit_description(km)
    ended["log_tail"] = log_path.read_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", "replace") if log_path.exists() else ""
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
