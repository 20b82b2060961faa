"""Helper overhead: ``labs_lib.training.fit`` against plain ``model.fit`` on the same model and data.

    python -m benchmarks.overhead [--quick]

One compiled MLP (784-256-128-10) trains through ``training.fit`` and through ``model.fit`` with the same
epochs, batch size and verbosity: the same model, so both calls run the same traced training function and
only what the helper adds differs. After a warm-up call each, the two are timed in turns (ABBA...), on
NumPy arrays and on the course's ``tf.data`` pipeline; the figure is the median of the per-round ratios
helper / plain. Target: at most 1.05.
"""

from __future__ import annotations

from benchmarks.common import figure, interleaved, main, median_ratio, mnist_images

TARGET = 1.05


def run(quick: bool) -> list[dict]:
    import keras
    import numpy as np

    from labs_lib import config, data, device, models, training

    device.setup()
    config.set_seed(0)
    samples = 4096 if quick else 16384
    images, y = mnist_images(samples)
    X = images.astype("float32") / 255.0
    epochs, batch = 2, 64
    repeats = 3 if quick else 15

    def build():
        config.set_seed(0)
        model = models.build_mlp(models.MLPConfig(input_shape=(28, 28), hidden_units=(256, 128)))
        return training.compile(model, "adam", 1e-3)

    model = build()
    pipeline = data.to_dataset(X, y, batch, shuffle=True)  # what Splits.datasets() gives for training

    figures = []
    for label, x_in, y_in, kwargs in (
        ("NumPy arrays", X, y, {"batch_size": batch}),
        ("tf.data pipeline", pipeline, None, {}),
    ):
        def helper(x_in=x_in, y_in=y_in, kwargs=kwargs):
            training.fit(model, x_in, y_in, num_epochs=epochs, verbose=0, **kwargs)

        def plain(x_in=x_in, y_in=y_in, kwargs=kwargs):
            extra = {"shuffle": False} if y_in is None else {}  # what the helper does for a pipeline
            model.fit(x_in, y_in, epochs=epochs, verbose=0, **kwargs, **extra)

        helper()
        plain()  # warm-up: trace both training functions
        times = interleaved({"helper": helper, "plain": plain}, repeats)
        ratio = median_ratio(times["helper"], times["plain"])
        detail = (f"{samples:,} images x {epochs} epochs, batch {batch}, {repeats} rounds; medians "
                  f"{np.median(times['helper']):.2f} s (helper) and {np.median(times['plain']):.2f} s (plain)")
        figures.append(figure(f"helper overhead, training.fit / model.fit ({label})", ratio, "x",
                              target=f"<= {TARGET}", ok=ratio <= TARGET, detail=detail, samples=times))
    keras.backend.clear_session()
    return figures


if __name__ == "__main__":
    main("overhead", run, __doc__)
