"""Scaling: epoch time as the data doubles, and one device against two under ``MirroredStrategy``.

    python -m benchmarks.scaling [--quick]

Data: an MLP (784-256-128-10, batch 64) trains one epoch on N, 2N and 4N MNIST-shaped images (in turns,
median of several rounds). Linear scaling means each doubling doubles the epoch time: the figures are
t(2N) / t(N) and t(4N) / t(2N), expected near 2.

Devices: the processor is split into two logical devices (``device.setup(cpu_devices=2)``); the same CNN
trains one epoch with the default strategy (one device, global batch 128) and with ``MirroredStrategy``
over both (two replicas of 64). Both share the same physical cores, so no speed-up is expected on a CPU:
the ratio shows what the strategy's synchronisation costs. On a machine with two GPUs the same code
measures real data parallelism (see lesson 13).
"""

from __future__ import annotations

from benchmarks.common import figure, interleaved, main, median_ratio, mnist_images


def run(quick: bool) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    from labs_lib import config, device, models, runs, training

    profile = device.setup(cpu_devices=2, policy="float32")  # before TensorFlow's first tensor
    config.set_seed(0)
    base = 2048 if quick else 8192
    repeats = 3 if quick else 11
    images, y = mnist_images(4 * base)
    X = (images / 255.0).astype("float32")

    one = device.DeviceProfile(kind="cpu", devices=["/CPU:0"], gpu_names=[], strategy=tf.distribute.get_strategy(),
                               policy=profile.policy, batch_size=64)  # the default strategy: one device
    mlp_config = models.MLPConfig(input_shape=(28, 28), hidden_units=(256, 128))
    mlp = training.compile(models.build_mlp(mlp_config, profile=one), "adam", 1e-3, profile=one)
    sets = {n: tf.data.Dataset.from_tensor_slices((X[:n], y[:n])).batch(64).cache() for n in (base, 2 * base, 4 * base)}
    for ds in sets.values():
        mlp.fit(ds, epochs=1, verbose=0)  # warm-up and cache fill
    times = interleaved({n: (lambda ds=ds: mlp.fit(ds, epochs=1, verbose=0) and None) for n, ds in sets.items()},
                        repeats)
    figures = []
    for small, large in ((base, 2 * base), (2 * base, 4 * base)):
        ratio = median_ratio(times[large], times[small])
        figures.append(figure(f"epoch time {large:,} / {small:,} images", ratio, "x", target="about 2",
                              ok=1.7 <= ratio <= 2.3,
                              detail=f"medians {np.median(times[small]):.3f} s and {np.median(times[large]):.3f} s",
                              samples={small: times[small], large: times[large]}))

    global_batch = 128
    cnn_config = models.CNNConfig(input_shape=(28, 28))
    images = X[:base].reshape(-1, 28, 28, 1)  # a few seconds per epoch, so the rounds stay close in time
    labels = y[:base]
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(global_batch).cache()
    config.set_seed(0)
    single = training.compile(models.build_cnn(cnn_config, profile=one), "adam", 1e-3, profile=one, metrics=())
    config.set_seed(0)
    mirrored = training.compile(models.build_cnn(cnn_config, profile=profile), "adam", 1e-3, profile=profile,
                                metrics=())
    single.fit(ds, epochs=1, verbose=0)
    mirrored.fit(ds, epochs=1, verbose=0)
    times = interleaved({
        "one": lambda: single.fit(ds, epochs=1, verbose=0) and None,
        "two": lambda: mirrored.fit(ds, epochs=1, verbose=0) and None,
    }, repeats)
    ratio = median_ratio(times["two"], times["one"])
    figures.append(figure(f"epoch time, MirroredStrategy on {profile.num_replicas} logical CPUs / one device",
                          ratio, "x", detail=f"CNN, {len(images):,} images, global batch {global_batch}; "
                          f"the logical devices share the same {runs.machine()['cores']} core(s)", samples=times))
    return figures


if __name__ == "__main__":
    main("scaling", run, __doc__)
