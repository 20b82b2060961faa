"""ipywidgets playgrounds for live hyperparameter tweaking, one module per concern.

Each playground keeps its logic in plain functions that run and draw without ipywidgets (the static version
for notebook viewers that cannot run widgets, and what the tests call); the widget only wires controls to them.

- :mod:`~labs_lib.widgets.descent`: the gradient-descent playground (:func:`descend`, :func:`plot_descent`,
  :class:`DescentPlayground`) on 1-D and 2-D surfaces, with SGD, momentum, RMSprop and Adam (lesson 02);
- :mod:`~labs_lib.widgets.playground`: the training playground's logic, TensorFlow Playground in Keras
  (:class:`PlaygroundConfig`, :class:`PlaygroundTrainer`, :func:`plot_playground`, :func:`to_keras_code`),
  and :mod:`~labs_lib.widgets.playground_widget` its widget, :class:`TrainingPlayground` (lesson 06);
- :mod:`~labs_lib.widgets.dashboard`: the training dashboard for any Keras model and ``labs_lib.data`` set,
  with live curves and a clean Stop (:class:`TrainingDashboard`, :class:`LiveCurves`, :class:`StopOnRequest`);
- :mod:`~labs_lib.widgets.attention`: the attention viewer (:func:`attention_maps`, :func:`plot_attention`,
  :class:`AttentionViewer`) for models built from ``labs_lib.models.TransformerBlock`` (lesson 09);
- :mod:`~labs_lib.widgets.display`: figures and messages inside a widget's one ``Output``;
- :mod:`~labs_lib.widgets.background`: training in a background thread, so Pause and Stop work while it runs.

Bad values never raise into the notebook: they show a message inside the widget, for example
"diverged at step 12 (loss became inf/NaN): lower the learning rate".
"""

from labs_lib.widgets.attention import AttentionViewer, attention_maps, attention_viewer, plot_attention
from labs_lib.widgets.dashboard import (
    DashboardSettings,
    LiveCurves,
    StopOnRequest,
    TrainingDashboard,
    fit_with_settings,
    training_dashboard,
)
from labs_lib.widgets.descent import SURFACES, DescentPlayground, descend, descent_playground, plot_descent
from labs_lib.widgets.playground import (
    PlaygroundConfig,
    PlaygroundTrainer,
    plot_playground,
    run_playground,
    to_keras_code,
)
from labs_lib.widgets.playground_widget import TrainingPlayground, training_playground

__all__ = [
    "SURFACES",
    "AttentionViewer",
    "DashboardSettings",
    "DescentPlayground",
    "LiveCurves",
    "PlaygroundConfig",
    "PlaygroundTrainer",
    "StopOnRequest",
    "TrainingDashboard",
    "TrainingPlayground",
    "attention_maps",
    "attention_viewer",
    "descend",
    "descent_playground",
    "fit_with_settings",
    "plot_attention",
    "plot_descent",
    "plot_playground",
    "run_playground",
    "to_keras_code",
    "training_dashboard",
    "training_playground",
]
