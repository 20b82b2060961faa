"""Static reading of cell sources, outside the kernel: names a cell binds, and code to review by hand.

The grader never trusts a submission's code to report on itself, but reading it is free and cannot be
forged. Two uses:

- :func:`bound_names`: the global names a (locked) cell assigns, so the in-kernel guard can put back
  what a student's later cell rebinds (``np = ...``, ``checks = ...``);
- :func:`review_flags`: constructs that only make sense to tamper with the kernel, the grader or the
  checks (``sys.modules``, ``builtins``, IPython internals, ``gc``, ``ctypes``, audit and trace hooks,
  assignments to attributes of modules such as ``np.testing.assert_allclose = ...``). They do not
  change a grade; they are listed in the gradebook's reason and the summary for the instructor to read.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Names a student's code should not touch: the checks and the modules tests rely on.
PROTECTED_ALIASES = {"np", "numpy", "tf", "tensorflow", "keras", "checks", "math", "builtins", "labs_lib"}
SUSPICIOUS_ATTRIBUTES = {
    ("sys", "modules"): "sys.modules",
    ("sys", "settrace"): "sys.settrace",
    ("sys", "setprofile"): "sys.setprofile",
    ("sys", "addaudithook"): "sys.addaudithook",
    ("sys", "_getframe"): "sys._getframe",
    ("sys", "excepthook"): "sys.excepthook",
    ("sys", "meta_path"): "sys.meta_path",
    ("sys", "path_hooks"): "sys.path_hooks",
    ("gc", "get_objects"): "gc.get_objects",
    ("gc", "get_referrers"): "gc.get_referrers",
    ("gc", "get_referents"): "gc.get_referents",
    ("inspect", "currentframe"): "inspect.currentframe",
    ("os", "kill"): "os.kill",
    ("os", "killpg"): "os.killpg",
    ("signal", "signal"): "signal.signal",
}
SUSPICIOUS_NAMES = {
    "get_ipython": "get_ipython()",
    "__builtins__": "__builtins__",
    "builtins": "the builtins module",
    "ctypes": "ctypes",
    "importlib": "importlib",
    "__code__": "__code__",
    "__globals__": "__globals__",
    "set_custom_exc": "IPython's set_custom_exc",
    "input_transformers_cleanup": "IPython input transformers",
    "input_transformers_post": "IPython input transformers",
    "ast_transformers": "IPython AST transformers",
    "run_cell": "IPython's run_cell",
    "run_ast_nodes": "IPython's run_ast_nodes",
    "run_code": "IPython's run_code",
    "showtraceback": "IPython's showtraceback",
    "_showtraceback": "IPython's showtraceback",
    "do_execute": "the kernel's do_execute",
    "send_response": "the kernel's messages",
}
MAGIC_CALLS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}  # what IPython turns magics into


@dataclass(frozen=True)
class Flag:
    """One construct worth a look: where it is and what it is."""

    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def to_python(source: str) -> str:
    """Cell source as plain Python (IPython magics and ``!shell`` lines turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython missing or a transformer error: read it as it is
        return source


def parse(source: str) -> ast.Module | None:
    """The AST of a cell, or None when it does not parse (the kernel will report the syntax error)."""
    try:
        return ast.parse(to_python(source))
    except (SyntaxError, ValueError):
        return None


def _target_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def bound_names(source: str) -> set[str]:
    """Global names a cell binds: assignments, ``def``, ``class``, imports, ``for``/``with`` targets, walrus."""
    tree = parse(source)
    if tree is None:
        return set()
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(stmt.name)
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    if alias.name != "*":
                        names.add(alias.asname or alias.name.split(".")[0])
                continue
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.With,
                                 ast.AsyncWith, ast.Delete)):
                targets = stmt.targets if isinstance(stmt, (ast.Assign, ast.Delete)) else (
                    [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor))
                    else [item.optional_vars for item in stmt.items if item.optional_vars is not None])
                for target in targets:
                    names.update(_target_names(target))
            for node in ast.walk(stmt):  # walrus at top level (not inside functions)
                if isinstance(node, ast.NamedExpr):
                    names.add(node.target.id)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    visit([s for s in inner if isinstance(s, ast.stmt)] +
                          [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body])
            if isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    if handler.name:
                        names.add(handler.name)

    visit(tree.body)
    return names


def imported_modules(source: str) -> set[str]:
    """Top-level packages a cell imports (``import numpy as np`` -> ``numpy``; ``from labs_lib import x`` -> ``labs_lib``)."""
    tree = parse(source)
    if tree is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _dotted(node: ast.AST) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def review_flags(source: str, protected: set[str] | None = None) -> list[Flag]:
    """Constructs in a student's cell that tamper with the kernel, the grader or the checks."""
    protected = PROTECTED_ALIASES | (protected or set())
    tree = parse(source)
    if tree is None:
        return []
    flags: list[Flag] = []
    magic_calls = {id(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in MAGIC_CALLS and isinstance(node.value, ast.Call)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                chain = _dotted(target)
                if len(chain) >= 2 and chain[0] in protected:
                    flags.append(Flag(line, f"changes {'.'.join(chain)}"))
                elif len(chain) == 1 and chain[0] in protected:
                    flags.append(Flag(line, f"rebinds {chain[0]}"))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in protected | {
                "check_array", "check_scalar", "check_function", "check_true", "assert_allclose"}:
            flags.append(Flag(line, f"defines {node.name}"))
        elif isinstance(node, ast.Call):
            func = _dotted(node.func)
            if func and func[-1] in ("setattr", "delattr") and node.args:
                chain = _dotted(node.args[0])
                if chain and chain[0] in protected:
                    flags.append(Flag(line, f"{func[-1]} on {'.'.join(chain)}"))
            if func == ["get_ipython"] and id(node) not in magic_calls:
                flags.append(Flag(line, "uses get_ipython()"))
        elif isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if len(chain) >= 2 and (chain[-2], chain[-1]) in SUSPICIOUS_ATTRIBUTES:
                flags.append(Flag(line, f"uses {SUSPICIOUS_ATTRIBUTES[(chain[-2], chain[-1])]}"))
            elif node.attr in SUSPICIOUS_NAMES:
                flags.append(Flag(line, f"uses {SUSPICIOUS_NAMES[node.attr]}"))
        elif isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES and node.id != "get_ipython":
            flags.append(Flag(line, f"uses {SUSPICIOUS_NAMES[node.id]}"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in ("ctypes", "builtins", "importlib", "gc", "IPython", "ipykernel"):
                    flags.append(Flag(line, f"imports {module}"))
    unique: dict[tuple[int, str], Flag] = {(f.line, f.what): f for f in flags}
    return sorted(unique.values(), key=lambda f: (f.line, f.what))
