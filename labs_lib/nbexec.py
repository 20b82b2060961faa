"""Headless notebook execution: what ``labs run`` (papermill) and ``labs grade`` (nbclient) share.

Neither has a browser, so neither needs nbclient's emulation of the JupyterLab Output widget, and that emulation
can hang a run forever. When a cell's output lands in an ``ipywidgets.Output`` (``interactive_output`` draws
every course playground that way), nbclient's ``OutputWidget`` answers with a comm message that it sends
*synchronously* on the shell channel, while the same client is awaiting that cell's ``execute_reply`` on the same
asyncio ZeroMQ socket. When the reply arrives during that send, the socket's edge-triggered wake-up is used up by
the send and the waiting poll never fires: the kernel is idle, the client waits for ever (nbclient issue 312,
"when cell contains ipywidget, execute cell will sometimes blocks"). Measured here, grading lesson 02 three at a
time on 2 cores: its ``DescentPlayground`` cell stuck 2 of the first 9 runs (the kernel idle with the cell done, as
its history said, the grader still waiting), and 0 of 36 runs with the emulation off.

Without the emulation the widget's outputs are kept as the cell's ordinary outputs, which is all a headless run
wants; the widget's own state is still stored in the notebook's metadata as before.
"""

from __future__ import annotations

import functools
from typing import Any

ENGINE = "labs-headless"  # papermill engine name for :func:`register_engine`


def without_output_widget_emulation(client: Any) -> None:
    """Switch off nbclient's Output-widget emulation on ``client`` (a ``NotebookClient``), see the module note.

    ``widget_registry`` maps a widget model module to the classes nbclient instantiates for it on ``comm_open``;
    with it empty, ``on_comm_open_jupyter_widget`` makes no ``OutputWidget`` and nothing is sent on the shell
    channel while a cell runs."""
    client.widget_registry = {}


@functools.cache
def _engine_class() -> type:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger

    class HeadlessClient(PapermillNotebookClient):
        """papermill's client without the Output-widget emulation."""

        def __init__(self, nb_man: Any, *args: Any, **kwargs: Any):
            super().__init__(nb_man, *args, **kwargs)
            without_output_widget_emulation(self)

    class HeadlessEngine(NBClientEngine):
        """papermill's nbclient engine with :class:`HeadlessClient` (papermill's documented engine extension)."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, **kwargs):
            kwargs.pop("input_path", None)  # papermill passes these to every engine; nbclient has no use for them
            kwargs.pop("startup_timeout", None)
            timeout = kwargs.pop("timeout", None)
            return HeadlessClient(nb_man, timeout=execution_timeout or timeout, startup_timeout=start_timeout,
                                  kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                  stderr_file=stderr_file, **kwargs).execute()

    return HeadlessEngine


def register_engine() -> str:
    """Register the headless engine with papermill; returns its name for ``execute_notebook(engine_name=...)``."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE, _engine_class())
    return ENGINE
