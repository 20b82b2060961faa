"""What labs_lib.grading relies on in papermill, nbclient and jupyter_client, checked without a kernel.

An upgrade that renames or reshapes one of these fails here with the hook's name and the file to fix
(labs_lib/grading/execute.py), and ``labs grade`` refuses to run (execute.require_hooks) instead of
grading wrongly: without its per-cell limit, output cap or sandboxed command line, grading would go on
and give wrong results without a word.
"""

import ast
import asyncio
import importlib.metadata
import sys

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from labs_lib.grading import execute, sandbox

from conftest import ROOT


@pytest.fixture(autouse=True)
def _fresh_hook_check():
    execute.require_hooks.cache_clear()  # a test that breaks a hook must not leave its verdict cached
    yield
    execute.require_hooks.cache_clear()


@pytest.mark.parametrize("hook", execute.HOOKS, ids=[h.target for h in execute.HOOKS])
def test_every_hook_is_there_with_the_signature_the_grader_relies_on(hook):
    assert execute.check_hook(hook) is None, execute.check_hook(hook)


def test_the_installed_packages_pass_the_check_labs_grade_makes():
    execute.require_hooks()  # raises RuntimeError if any hook changed


def _hook(target):
    (hook,) = [h for h in execute.HOOKS if h.target == target]
    return hook


def test_an_overridden_method_with_a_new_parameter_is_reported_with_the_file_to_fix(monkeypatch):
    from nbclient import NotebookClient

    def output(self, outs, msg, display_id, cell_index, in_widget=False):
        return None

    monkeypatch.setattr(NotebookClient, "output", output)
    problem = execute.check_hook(_hook("nbclient:NotebookClient.output"))
    assert problem is not None
    assert "nbclient:NotebookClient.output" in problem and "in_widget" in problem
    assert f"nbclient {importlib.metadata.version('nbclient')}" in problem
    assert "labs_lib/grading/execute.py" in problem and "outputs are capped per cell" in problem
    with pytest.raises(RuntimeError, match=r"(?s)cannot run.*NotebookClient\.output.*binder/environment\.yml"):
        execute.require_hooks()


def test_a_removed_method_is_reported(monkeypatch):
    from papermill.engines import NotebookExecutionManager

    monkeypatch.delattr(NotebookExecutionManager, "cell_complete")
    problem = execute.check_hook(_hook("papermill.engines:NotebookExecutionManager.cell_complete"))
    assert problem is not None and "is gone in papermill" in problem and "labs_lib/grading/execute.py" in problem


def test_a_called_method_that_lost_a_parameter_is_reported(monkeypatch):
    from jupyter_client.manager import AsyncKernelManager

    async def shutdown_kernel(self, restart=False):
        return None

    monkeypatch.setattr(AsyncKernelManager, "shutdown_kernel", shutdown_kernel)
    problem = execute.check_hook(_hook("jupyter_client.manager:AsyncKernelManager.shutdown_kernel"))
    assert problem is not None and "no longer takes now" in problem and "ignores the interrupt" in problem


def test_a_behaviour_the_signature_cannot_show_is_checked_in_the_source(monkeypatch):
    from nbclient import NotebookClient

    async def async_execute(self, reset_kc=False, **kwargs):  # runs cells some other way
        return self.nb

    monkeypatch.setattr(NotebookClient, "async_execute", async_execute)
    problem = execute.check_hook(_hook("nbclient:NotebookClient.async_execute"))
    assert problem is not None and "no longer uses 'self.async_execute_cell'" in problem


def _private_members() -> set[str]:
    """Underscore (not dunder) names of the classes and objects the grader works with."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning import LocalProvisioner
    from nbclient import NotebookClient
    from papermill.engines import Engine, NotebookExecutionManager, papermill_engines

    names = set()
    for thing in (AsyncKernelManager, LocalProvisioner, NotebookClient, Engine, NotebookExecutionManager,
                  papermill_engines, type(papermill_engines)):
        names |= {n for n in dir(thing) if n.startswith("_") and not n.startswith("__")}
    return names


def test_grading_uses_no_private_method_or_module_of_papermill_nbclient_or_jupyter_client():
    private = _private_members()
    assert {"_async_handle_timeout", "_async_pre_start_kernel", "_cleanup_kernel", "_engines"} <= private
    found = []
    for path in sorted((ROOT / "labs_lib" / "grading").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{where} uses .{node.attr}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in private:
                found.append(f"{where} overrides {node.name}")
            elif isinstance(node, ast.ImportFrom) and node.module in ("papermill.clientwrap", "nbclient.util"):
                found.append(f"{where} imports {node.module}")
    assert not found, found


def _policy(tmp_path):
    return sandbox.SandboxPolicy(mode="audit", home=str(tmp_path / "home"), writable=[str(tmp_path / "sock")])


def test_the_kernel_command_and_its_environment_reach_the_launch_through_public_start_kernel_arguments(tmp_path):
    (tmp_path / "home").mkdir()
    policy = _policy(tmp_path)
    km = execute._kernel_manager_class()(sandbox_policy=policy, kernel_name="python3",
                                         connection_file=str(tmp_path / "kernel.json"))
    env = {"HOME": policy.home, "LABS_MARK": "scrubbed"}
    with open(tmp_path / "kernel.log", "wb") as log:
        launch = execute.kernel_launch_options(policy, env, log)
        assert launch["env"] == env and launch["env"] is not env  # a copy: jupyter_client adds to it

        async def prepare():  # what jupyter_client would hand to Popen, without starting anything
            try:
                return await km.pre_start_kernel(extra_arguments=["--Extra=1"], **launch)
            finally:
                await km.cleanup_resources()

        command, kwargs = asyncio.run(prepare())
    assert command == [sys.executable, "-m", "labs_lib.grading.sandbox", policy.to_json(), "--",
                       "-m", "ipykernel_launcher", "-f", str(tmp_path / "kernel.json"), "--Extra=1"]
    assert kwargs["env"]["LABS_MARK"] == "scrubbed" and kwargs["env"]["HOME"] == policy.home
    assert kwargs["cwd"] == policy.home and kwargs["stdout"] is log and kwargs["stderr"] is log


def _client(**options):
    from papermill.engines import NotebookExecutionManager

    nb = new_notebook(cells=[new_code_cell("print('x')")])
    return execute._client_class()(NotebookExecutionManager(nb, progress_bar=False), kernel_name="python3", **options)


def _stream(text):
    return {"msg_type": "stream", "header": {"msg_type": "stream"}, "parent_header": {"msg_id": "m"},
            "content": {"name": "stdout", "text": text}}


def test_outputs_are_capped_per_cell_keeping_the_start_of_a_long_print():
    client = _client(output_bytes=5000)
    client.clear_before_next_output = False  # nbclient sets this at the start of every cell
    outs = []
    for _ in range(3):
        client.output(outs, _stream("x" * 3000), None, 0)
    kept = [len(o["text"]) for o in outs]
    assert kept[0] == 3000 and 0 < kept[1] < 2000 and len(kept) == 2  # the third print is dropped whole
    assert sum(kept) < 5000
    assert client.records[0]["truncated"] > 3000  # the rest of the second print and all of the third
    other = []
    client.output(other, _stream("y" * 100), None, 1)  # the cap is per cell
    assert [o["text"] for o in other] == ["y" * 100] and "truncated" not in client.records.get(1, {})


class _FakeKernelManager:
    """Records what the per-cell limit asks of the kernel manager."""

    def __init__(self):
        self.calls = []

    async def interrupt_kernel(self):
        self.calls.append("interrupt")

    async def shutdown_kernel(self, now=False, restart=False):
        self.calls.append(("shutdown", now))


def _run_limit(client, index, stop_after=None):
    async def go():
        task = asyncio.ensure_future(client.limit_cell_time(index))
        if stop_after is None:
            await task
        else:  # the cell finishes after stop_after seconds
            await asyncio.sleep(stop_after)
            task.cancel()
    asyncio.run(go())


def test_a_cell_past_the_limit_is_interrupted_then_the_kernel_is_stopped():
    km = _FakeKernelManager()
    client = _client(km=km, cell_timeout=0.05)
    _run_limit(client, 4)
    assert km.calls == ["interrupt", ("shutdown", True)]
    assert client.records[4]["timed_out"] and client.records[4]["killed"]


def test_a_cell_that_stops_when_interrupted_keeps_its_kernel():
    km = _FakeKernelManager()
    client = _client(km=km, cell_timeout=0.1)
    _run_limit(client, 2, stop_after=0.15)
    assert km.calls == ["interrupt"]
    assert client.records[2]["timed_out"] and "killed" not in client.records[2]


def test_a_cell_within_the_limit_is_left_alone_and_no_limit_means_none():
    km = _FakeKernelManager()
    client = _client(km=km, cell_timeout=0.2)
    _run_limit(client, 1, stop_after=0.02)
    unlimited = _client(km=km, cell_timeout=None)
    _run_limit(unlimited, 1)  # returns at once
    assert km.calls == [] and client.records == {} and unlimited.records == {}


def test_the_engine_is_registered_once_and_builds_the_client_from_papermills_arguments(monkeypatch):
    from papermill.engines import NotebookExecutionManager, papermill_engines

    execute._register_engine()
    execute._register_engine()
    engine = papermill_engines.get_engine(execute.ENGINE)
    assert engine is execute._engine_class()
    seen = {}

    def fake_execute(self, **kwargs):
        seen.update(kwargs)
        return self.nb

    monkeypatch.setattr(execute._client_class(), "execute", fake_execute)
    nb_man = NotebookExecutionManager(new_notebook(cells=[new_code_cell("1")]), progress_bar=False)
    holder = []
    launch = {"env": {"HOME": "/h"}, "cwd": "/h"}
    result = engine.execute_managed_notebook(
        nb_man, "python3", input_path="in.ipynb", log_output=False, stdout_file=None, stderr_file=None,
        start_timeout=7, execution_timeout=3.5, client_holder=holder, kernel_launch=launch, allow_errors=True)
    (client,) = holder
    assert result is nb_man.nb and seen == {"cleanup_kc": True, **launch}
    assert client.cell_timeout == 3.5 and client.timeout is None  # nbclient's own timeout is off
    assert client.startup_timeout == 7 and client.allow_errors and client.kernel_name == "python3"
