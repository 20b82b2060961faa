"""Runs inside the grading kernel: puts back what a submission changed before each exercise's tests run.

The grader injects a few cells of its own into the grading copy of a notebook (see
:mod:`labs_lib.grading.assemble`). The first, before any student code, creates a :class:`Guard`, which
imports the modules the tests rely on and records them. Later grader cells call it:

- :meth:`Guard.snapshot` after every locked cell: the values the lesson's own cells bound
  (``np``, ``checks``, ``theta0``, ...);
- :meth:`Guard.restore_names` before a locked cell that follows a student's cell: the lesson's
  names put back, so ``np = FakeNumpy()`` or ``checks = Anything`` in a solution does not reach
  the lesson or the tests (names the exercises define, such as the student's functions, are theirs);
- :meth:`Guard.before_tests` right before a tests cell: additionally every function, class and
  submodule of the protected modules (the public API of NumPy including ``numpy.testing``,
  ``math``, ``builtins``, ``labs_lib`` with its checks, TensorFlow's and Keras' public API) as
  recorded, the functions' code objects, ``sys.modules``, ``sys.path`` and import hooks, warning
  filters, trace and profile hooks, and IPython's input/AST transformers, custom exception
  handlers, event callbacks and methods; what it had to undo is reported to the grader;
- :meth:`Guard.after_tests` right after the tests cell: checks that nothing changed them *while*
  the tests ran (a background thread, a callback) and raises :class:`TamperError` if so.

The tests cell itself is the instructor's, restored from the source notebook; whether it passed is
read by the grader from the kernel's reply for that cell, never from anything printed.

What this cannot do, and the README says: code in the same process can always reach these objects
(through ``gc``, frames or ``ctypes``) and forge replies; :mod:`labs_lib.grading.review` lists such
constructs for the instructor.
"""

from __future__ import annotations

import builtins
import importlib
import linecache
import sys
import threading
import types
import warnings
from typing import Any

GUARD_MIME = "application/vnd.labs.guard+json"
ALWAYS_PROTECTED = ("builtins", "math", "numpy", "labs_lib")
PUBLIC_PRIVATE_PARTS = ("_api", "_tf_keras")  # TensorFlow's and Keras' public API live under these
SKIPPED_PARTS = ("python", "src", "tests", "compat", "grading")
SHELL_MODULES = ("IPython", "ipykernel", "matplotlib", "matplotlib_inline", "ipywidgets", "traitlets", "comm")
KERNEL_REBOUND_BUILTINS = {"input", "raw_input", "getpass"}
_MISSING = object()


class TamperError(Exception):
    """The grader found the kernel's state changed in a way it cannot trust (not an AssertionError)."""


def _is_public(name: str, root: str) -> bool:
    parts = name.split(".")[1:] if name != root else []
    return all(not p.startswith("_") or p in PUBLIC_PRIVATE_PARTS for p in parts) and not any(
        p in SKIPPED_PARTS for p in parts)


def _loaded_by(recorded: Any, module: Any) -> bool:
    """True when ``module`` is the same code as the recorded module under another import name: importing
    ``tensorflow.saved_model`` (Keras' export does) binds a second module object from the file of
    ``tensorflow._api.v2.saved_model``, as the package's attribute; TensorFlow's and Keras' lazy loaders are
    replaced by their module the same way. A plain module that ``sys.modules`` holds, from a file of the package."""
    if not isinstance(recorded, types.ModuleType) or type(module) is not types.ModuleType:
        return False
    if sys.modules.get(module.__name__) is not module:
        return False
    import os

    root = sys.modules.get(module.__name__.split(".")[0])
    origin, package = getattr(module, "__file__", None), getattr(root, "__file__", None)
    if not origin or not package:
        return False
    origin = os.path.realpath(origin)
    if not origin.startswith(os.path.dirname(os.path.realpath(package)) + os.sep):
        return False
    before = getattr(recorded, "__file__", None)
    lazy = "LazyLoader" in type(recorded).__name__ and recorded.__name__ == module.__name__
    return lazy or (before is not None and os.path.realpath(before) == origin)


def _recorded(value: Any) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


def _owned_by_library(callback: Any) -> bool:
    owner = getattr(callback, "__self__", None)
    module = getattr(type(owner), "__module__", "") if owner is not None else getattr(callback, "__module__", "")
    return isinstance(module, str) and module.split(".")[0] in SHELL_MODULES


class Guard:
    """The grader's agent in the kernel (one per grading run; created by the first grader cell)."""

    def __init__(self, protect: list[str], imports: list[str], student_names: list[str]):
        from IPython import get_ipython

        self.shell = get_ipython()
        if self.shell is None:
            raise RuntimeError("the grading guard runs inside an IPython kernel")
        self.ns = self.shell.user_ns
        for name in imports:  # import now, before any student code can change them
            try:
                importlib.import_module(name)
            except Exception as error:  # noqa: BLE001 - the lesson will report a missing module itself
                print(f"grader: could not import {name}: {error}", file=sys.stderr)
        self.roots = sorted(set(ALWAYS_PROTECTED) | set(protect))
        self.student_names = set(student_names)
        self.bindings: dict[str, Any] = {}
        self._record_modules()
        self._record_interpreter()
        self._record_shell()
        self.threads = set(threading.enumerate())

    # ---- what is recorded -----------------------------------------------------------------------

    def _protected_modules(self) -> dict[str, types.ModuleType]:
        found = {}
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType):
                continue
            root = name.split(".")[0]
            if root in self.roots and root != "builtins" and _is_public(name, root):
                found[name] = module
        return found

    def _record_modules(self) -> None:
        self.modules = self._protected_modules()
        self.module_dicts = {name: {k: v for k, v in vars(m).items() if _recorded(v)} for name, m in self.modules.items()}
        self.codes = {}
        for values in self.module_dicts.values():
            for value in values.values():
                if isinstance(value, types.FunctionType):
                    self.codes[value] = (value.__code__, value.__defaults__, value.__kwdefaults__)
        # ipykernel rebinds input/getpass for every execution (stdin forwarding): not the student's doing
        self.builtins = {k: v for k, v in vars(builtins).items() if k not in KERNEL_REBOUND_BUILTINS}

    def _record_interpreter(self) -> None:
        self.sys_lists = {"path": list(sys.path), "meta_path": list(sys.meta_path), "path_hooks": list(sys.path_hooks)}
        self.sys_hooks = {"displayhook": sys.displayhook}
        self.warning_filters = list(warnings.filters)
        self.showwarning = warnings.showwarning
        self.trace = sys.gettrace()
        self.profile = sys.getprofile()

    def _record_shell(self) -> None:
        shell = self.shell
        self.shell_lists = {name: list(getattr(shell, name)) for name in
                            ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
                            if isinstance(getattr(shell, name, None), list)}
        manager = shell.input_transformer_manager
        self.manager = manager
        self.manager_lists = {name: list(getattr(manager, name)) for name in
                              ("cleanup_transforms", "line_transforms", "token_transformers")
                              if isinstance(getattr(manager, name, None), list)}
        self.custom_tb = shell.CustomTB
        self.instance = dict(vars(shell))
        kernel = getattr(shell, "kernel", None)
        classes = list(type(shell).__mro__) + (list(type(kernel).__mro__) if kernel is not None else [])
        methods = (types.FunctionType, staticmethod, classmethod, property)
        self.classes = {cls: {k: v for k, v in vars(cls).items() if isinstance(v, methods)} for cls in classes
                        if cls.__module__.split(".")[0] in ("IPython", "ipykernel")}
        self.kernel = kernel
        self.kernel_instance = dict(vars(kernel)) if kernel is not None else {}

    # ---- putting things back ------------------------------------------------------------------------

    def _restore_modules(self, fix: bool) -> list[str]:
        changed = []
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                changed.append(f"sys.modules[{name!r}]")
                if fix:
                    sys.modules[name] = module
            current = vars(module)
            for key, value in list(self.module_dicts[name].items()):
                now = current.get(key, _MISSING)
                if now is value:
                    continue
                if _loaded_by(value, now):  # a lazy loader replaced by the real module it loads (a lesson's
                    self.module_dicts[name][key] = now  # first tf.saved_model.load does it): keep the module
                    continue
                if not fix and isinstance(value, types.ModuleType) and isinstance(now, types.ModuleType):
                    continue  # a lazy loader replaced by the module it loads: not tampering
                changed.append(f"{name}.{key}")
                if fix:
                    current[key] = value
        for function, (code, defaults, kwdefaults) in self.codes.items():
            if function.__code__ is not code or function.__defaults__ is not defaults or (
                    function.__kwdefaults__ is not kwdefaults):
                changed.append(f"the code of {function.__module__}.{function.__qualname__}")
                if fix:
                    function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
        current = vars(builtins)
        for key, value in self.builtins.items():
            if current.get(key, _MISSING) is not value:
                changed.append(f"builtins.{key}")
                if fix:
                    current[key] = value
        if self.ns.get("__builtins__") is not builtins and self.ns.get("__builtins__") is not vars(builtins):
            changed.append("__builtins__")
            if fix:
                self.ns["__builtins__"] = builtins
        return changed

    def _restore_interpreter(self, fix: bool) -> list[str]:
        changed = []
        for name, saved in self.sys_lists.items():
            current = getattr(sys, name)
            if current != saved:
                changed.append(f"sys.{name}")
                if fix:
                    current[:] = saved
        for name, saved in self.sys_hooks.items():
            if getattr(sys, name) is not saved:
                changed.append(f"sys.{name}")
                if fix:
                    setattr(sys, name, saved)
        if warnings.filters != self.warning_filters or warnings.showwarning is not self.showwarning:
            if fix:
                warnings.filters[:] = self.warning_filters
                warnings.showwarning = self.showwarning
        if sys.gettrace() is not self.trace or sys.getprofile() is not self.profile:
            changed.append("a trace or profile hook")
            if fix:
                sys.settrace(self.trace)
                sys.setprofile(self.profile)
        return changed

    def _restore_shell(self, fix: bool) -> list[str]:
        shell, changed = self.shell, []
        if shell.input_transformer_manager is not self.manager:
            changed.append("IPython input_transformer_manager")
            if fix:
                shell.input_transformer_manager = self.manager
        for owner, lists in ((shell, self.shell_lists), (self.manager, self.manager_lists)):
            for name, saved in lists.items():
                current = getattr(owner, name)
                if current != saved:
                    changed.append(f"IPython {name}")
                    if fix:
                        current[:] = saved  # in place: some of these are properties without a setter
        if shell.custom_exceptions or shell.CustomTB is not self.custom_tb:
            changed.append("IPython custom exception handlers")
            if fix:
                shell.custom_exceptions = ()
                shell.CustomTB = self.custom_tb
        for event, callbacks in shell.events.callbacks.items():
            foreign = [cb for cb in callbacks if not _owned_by_library(cb)]
            if foreign:
                changed.append(f"IPython {event} callbacks")
                if fix:
                    callbacks[:] = [cb for cb in callbacks if _owned_by_library(cb)]
        for obj, saved in ((shell, self.instance), (self.kernel, self.kernel_instance)):
            if obj is None:
                continue
            current = vars(obj)
            for key in list(current):
                if key not in saved and any(isinstance(vars(cls).get(key), types.FunctionType)
                                            for cls in type(obj).__mro__):
                    changed.append(f"{type(obj).__name__}.{key}")
                    if fix:
                        del current[key]
            for key, value in saved.items():
                if callable(value) and current.get(key, _MISSING) is not value:
                    changed.append(f"{type(obj).__name__}.{key}")
                    if fix:
                        current[key] = value
        for cls, saved in self.classes.items():
            current = vars(cls)
            for key, value in saved.items():
                if current.get(key, _MISSING) is not value:
                    changed.append(f"{cls.__name__}.{key}")
                    if fix:
                        setattr(cls, key, value)
        return changed

    def _restore_all(self, fix: bool) -> list[str]:
        return self._restore_modules(fix) + self._restore_interpreter(fix) + self._restore_shell(fix)

    def _report(self, kind: str, exercise: str | None, changed: list[str], **extra: Any) -> None:
        from IPython.display import display

        display({GUARD_MIME: {"kind": kind, "exercise": exercise, "undone": sorted(set(changed)), **extra}}, raw=True)

    # ---- the calls the grader's cells make -------------------------------------------------------------

    def snapshot(self, names: list[str]) -> None:
        """Record the values the lesson's last cell bound (names the exercises define are left alone)."""
        for name in names:
            if name in self.student_names:
                continue
            if name in self.ns:
                self.bindings[name] = self.ns[name]
            else:
                self.bindings.pop(name, None)

    def restore_names(self) -> list[str]:
        """Put back the lesson's names that a student's cell rebound or deleted."""
        changed = []
        for name, value in self.bindings.items():
            if self.ns.get(name, _MISSING) is not value:
                self.ns[name] = value
                changed.append(name)
        return changed

    def before_tests(self, exercise: str) -> None:
        """Make the kernel as the lesson left it, then check what cannot be put back."""
        changed = self._restore_all(fix=True)
        changed += [f"the name {name}" for name in self.restore_names()]
        if sys.flags.optimize:
            raise TamperError("assert statements are switched off (python -O): the tests cannot run")
        try:
            assert False  # noqa: B011 - proves that assert statements still raise
        except AssertionError:
            pass
        else:
            raise TamperError("assert statements do not raise")
        threads = [t.name for t in threading.enumerate() if t not in self.threads and t.is_alive()]
        self._cache_keys = set(linecache.cache)
        self._report("before", exercise, changed, threads=threads)

    def _forget_tests(self, drop: list[str]) -> None:
        """Leave no trace of the hidden tests for later cells: their source in linecache (kept for
        tracebacks), the last traceback, and the names only the hidden part defined (test data)."""
        for key in set(linecache.cache) - getattr(self, "_cache_keys", set(linecache.cache)):
            linecache.cache.pop(key, None)
        sys.last_type = sys.last_value = sys.last_traceback = None
        if hasattr(sys, "last_exc"):
            sys.last_exc = None
        if hasattr(self.shell, "_last_traceback"):
            self.shell._last_traceback = None
        for name in drop:
            self.ns.pop(name, None)
            self.bindings.pop(name, None)

    def after_tests(self, exercise: str, names: list[str], drop: list[str] | None = None) -> None:
        """Check that nothing changed the protected state while the tests ran; record the tests cell's
        names and forget what only the hidden tests defined."""
        changed = self._restore_all(fix=False)
        self._forget_tests(drop or [])
        self.snapshot([n for n in names if n not in set(drop or [])])
        if changed:
            self._restore_all(fix=True)
            shown = ", ".join(sorted(set(changed))[:5])
            raise TamperError(f"while the tests of {exercise} ran, something replaced {shown}: the result cannot be trusted")
        self._report("after", exercise, [])
