"""labs_lib: the helper package of the deep-learning course.

What is too long for a notebook lives here, one concern per module:

- :mod:`labs_lib.config`   run settings (quick/full mode, seeds, data directory)
- :mod:`labs_lib.device`   CPU / GPU / multi-device detection and distribution strategy
- :mod:`labs_lib.data`     offline-first data sets
- :mod:`labs_lib.standin`  the MNIST-sized offline stand-in, generated from scikit-learn's digits and cached
- :mod:`labs_lib.models`   model builders (MLP, CNN, RNN, Transformer, small GPT)
- :mod:`labs_lib.gpt2`     GPT-2 weights from KerasHub into the course GPT (the optional ``hub`` extra)
- :mod:`labs_lib.pretrained` the course GPT's shipped pretrained checkpoint (lesson 11; ``labs pretrain`` rebuilds it)
- :mod:`labs_lib.training` a thin ``fit`` helper
- :mod:`labs_lib.optimizers` the optimizer registry (name, label, Keras class, exported code) every widget reads
- :mod:`labs_lib.plots`    figures too long to inline
- :mod:`labs_lib.checks`   exercise checks with specific feedback
- :mod:`labs_lib.widgets`  live hyperparameter playgrounds (ipywidgets), logic in plain functions
- :mod:`labs_lib.grading`  release student editions and grade submissions (``labs release``, ``labs grade``);
  a subpackage with its own module map
- :mod:`labs_lib.results`  the figures a lesson reaches, recorded for the course's results table
- :mod:`labs_lib.runs`     ``labs run``: the course with papermill, its wall times, peak memory and figures
- :mod:`labs_lib.links`    the repository's path, once: Binder/Colab badges and the Colab setup cell (``labs links``)
- :mod:`labs_lib.nbexec`   headless execution shared by ``labs run`` and ``labs grade`` (no Output-widget emulation)
- :mod:`labs_lib.report`   the README's results section, written from the results files (``labs results``)
- :mod:`labs_lib.nbclean`  the one notebook cleaner, a keep-list (``labs clean [--check]``, ``labs release``)
- :mod:`labs_lib.glossary` the bilingual glossary: the notebooks' Chinese glosses, defined (``labs glossary``)
- :mod:`labs_lib.site`     the course website: lessons executed for it, then Sphinx with MyST-NB (``labs site``)
- :mod:`labs_lib.cli`      the ``labs`` command (doctor, clean, release, grade, run, bench, results, glossary, pretrain, site)

Modules that need TensorFlow import it themselves, so ``import labs_lib`` stays cheap.
"""

__version__ = "0.1.0"
