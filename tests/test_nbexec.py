"""Headless execution without nbclient's Output-widget emulation (the cause of the lesson-02 grading hang)."""

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.output_widget import OutputWidget

from labs_lib import nbexec
from labs_lib.grading import execute


def _output_model_open() -> dict:
    """The comm_open message ipywidgets sends when an ``ipywidgets.Output`` is created."""
    state = {"_model_module": "@jupyter-widgets/output", "_model_name": "OutputModel", "msg_id": "", "outputs": []}
    return {"msg_type": "comm_open", "header": {"msg_id": "m1"}, "parent_header": {"msg_id": "cell-1"},
            "content": {"comm_id": "c1", "target_name": "jupyter.widget", "data": {"state": state}}}


def test_nbclient_emulates_the_output_widget_unless_switched_off():
    nb = nbformat.v4.new_notebook()
    emulating = NotebookClient(nb)
    assert isinstance(emulating.on_comm_open_jupyter_widget(_output_model_open()), OutputWidget)
    headless = NotebookClient(nb)
    nbexec.without_output_widget_emulation(headless)
    assert headless.on_comm_open_jupyter_widget(_output_model_open()) is None  # nothing will send on shell


def test_the_grading_client_does_not_emulate_output_widgets():
    class Manager:  # what GradingClient reads of papermill's NotebookExecutionManager
        nb = nbformat.v4.new_notebook()

    client = execute._client_class()(Manager(), cell_timeout=5)
    assert client.on_comm_open_jupyter_widget(_output_model_open()) is None


@pytest.mark.kernel
def test_the_headless_engine_keeps_a_widgets_outputs_in_the_cell(tmp_path):
    papermill = pytest.importorskip("papermill")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import ipywidgets\nout = ipywidgets.Output()\nwith out:\n    print('inside')\nout"),
        nbformat.v4.new_code_cell("print('after')"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, executed = tmp_path / "w.ipynb", tmp_path / "w-out.ipynb"
    nbformat.write(nb, source)
    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False,
                               engine_name=nbexec.register_engine(), execution_timeout=60)
    cells = nbformat.read(executed, 4).cells
    texts = ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream") for cell in cells]
    assert texts == ["inside\n", "after\n"]  # the widget's print stays with its cell, and the next cell ran
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cells[0].outputs)
