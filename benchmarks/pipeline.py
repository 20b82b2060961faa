"""Input pipeline against the model: the pipeline must never be what training waits for.

    python -m benchmarks.pipeline [--quick]

The pipeline is the course's training pipeline (``labs_lib.data.to_dataset``, what ``Splits.datasets()``
returns for training: shuffled, batched, scaled to [0, 1] per batch, prefetched) over the MNIST-shaped
images, read on its own for whole epochs: images per second. The model's consumption rate is
``model.fit`` on one batch already in memory, repeated (no input work at all): images per second, for the
fastest model of the course's image lessons (an MLP, 784-128-10; a whole epoch) and for the CNN (a quarter
of an epoch, so that each timed call takes seconds, not tens of seconds). The figure is the ratio
pipeline / model: above 1 the pipeline keeps up. As a check of the same thing in practice, one epoch
trained from the pipeline is compared with one epoch from tensors already in memory.
"""

from __future__ import annotations

from benchmarks.common import figure, interleaved, main, median_ratio, median_seconds, mnist_images


def run(quick: bool) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    from labs_lib import config, data, device, models, training

    device.setup()
    config.set_seed(0)
    samples = 8192 if quick else 32768
    X, y = mnist_images(samples)
    batch = 64
    steps = samples // batch
    repeats = 3 if quick else 11

    def scale(images, labels):
        return tf.cast(images, tf.float32) / 255.0, labels

    pipeline = data.to_dataset(X, y, batch, shuffle=True, transform=scale)

    def read_pipeline():
        for _ in pipeline:
            pass

    pipeline_rate = samples / median_seconds(read_pipeline, repeats)  # the warm-up builds buffers, traces the map
    figures = [figure("input pipeline alone", pipeline_rate, "images/s",
                      detail=f"{samples:,} MNIST-shaped images per epoch, batch {batch}, shuffled and scaled")]

    x_batch, y_batch = next(iter(pipeline))
    builders = {  # name: (builder, steps per timed epoch): a few seconds each, so rounds stay close in time
        "MLP 784-128-10": (lambda: models.build_mlp(models.MLPConfig(input_shape=(28, 28), hidden_units=(128,))),
                           steps),
        "CNN (LeNet-style)": (lambda: models.build_cnn(models.CNNConfig(input_shape=(28, 28))), steps // 4),
    }
    for name, (build, model_steps) in builders.items():
        in_memory = tf.data.Dataset.from_tensors((x_batch, y_batch)).repeat(model_steps)
        from_pipeline = pipeline.take(model_steps)
        model = training.compile(build(), "adam", 1e-3)
        model.fit(in_memory, epochs=1, verbose=0)  # warm-up: traces the step
        model.fit(from_pipeline, epochs=1, verbose=0)
        times = interleaved({
            "memory": lambda model=model, ds=in_memory: model.fit(ds, epochs=1, verbose=0) and None,
            "pipeline": lambda model=model, ds=from_pipeline: model.fit(ds, epochs=1, verbose=0) and None,
        }, repeats)
        consumption = model_steps * batch / float(np.median(times["memory"]))
        ratio = pipeline_rate / consumption
        figures.append(figure(f"pipeline / {name} consumption", ratio, "x", target="> 1", ok=ratio > 1,
                              detail=f"the model takes {consumption:,.0f} images/s from memory"))
        slowdown = median_ratio(times["pipeline"], times["memory"])
        figures.append(figure(f"{name} epoch from the pipeline / from memory", slowdown, "x",
                              detail="about 1 when the pipeline is not the bottleneck", samples=times))
    return figures


if __name__ == "__main__":
    main("pipeline", run, __doc__)
