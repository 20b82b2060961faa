"""The offline MNIST stand-in: how long it takes to make, where its ink is, what models reach on it.

    python -m benchmarks.standin [--quick]

Build time is the whole set (55,000 + 5,000 + 10,000 images) generated and written to an empty cache,
then read back from that cache; the quick-mode slice (4,000 + 1,000 + 1,000) is generated on its own, as
quick mode does. Ink: pixels that are zero in every training image (MNIST has 67 of 784; the stand-in
this replaced, 8x8 digits upscaled to 28x28, had 385) and pixels inked in under 1% of images. Models:
an MLP 784-128-10 and the course's LeNet-style CNN (``models.build_cnn``) trained with Adam on the
training split and scored once on the test split, whose images come from source digits the models
never saw. Quick mode trains on the quick slice for one epoch: it shows the figures come out, not
what full training reaches.
"""

from __future__ import annotations

from benchmarks.common import figure, main


def run(quick: bool) -> list[dict]:
    import os
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as folder:
        os.environ["LABS_DATA_DIR"] = folder  # an empty cache: the build below is a first build
        from labs_lib import standin

        start = time.perf_counter()
        standin.build()
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        arrays, _ = standin.load_full()
        load_s = time.perf_counter() - start
    start = time.perf_counter()
    for split, n in (("train", 4000), ("val", 1000), ("test", 1000)):
        standin.generate(split, n)
    quick_s = time.perf_counter() - start
    ink = standin.stats(arrays["X_train"])
    figures = [
        figure("build the whole set (70,000 images) into an empty cache", build_s, "s", target="< 30", ok=build_s < 30),
        figure("read the whole set back from the cache", load_s, "s", detail="SHA-256 checked"),
        figure("generate the quick-mode slice (6,000 images), no cache", quick_s, "s"),
        figure("pixels zero in every training image", 100 * ink["always_zero_share"], "%", target="< 10",
               ok=ink["always_zero_share"] < 0.10,
               detail=f"{ink['always_zero_pixels']} of 784 (MNIST: 67; the upscaled 8x8 digits: 385)"),
        figure("pixels inked in under 1% of training images", 100 * ink["rarely_inked_share"], "%"),
    ]
    figures += _accuracies(arrays, quick)
    return figures


def _accuracies(arrays: dict, quick: bool) -> list[dict]:
    import numpy as np

    from labs_lib import config, device, models, training

    device.setup()
    config.set_seed(0)
    n_train, n_test = (4000, 1000) if quick else (None, None)
    X_train = arrays["X_train"][:n_train].astype(np.float32) / 255.0
    y_train = arrays["y_train"][:n_train]
    X_test = arrays["X_test"][:n_test].astype(np.float32) / 255.0
    y_test = arrays["y_test"][:n_test]
    runs = {  # name: (model, epochs)
        "MLP 784-128-10": (models.build_mlp(models.MLPConfig(input_shape=(28, 28), hidden_units=(128,))), 1 if quick else 20),
        "LeNet-style CNN": (models.build_cnn(models.CNNConfig(input_shape=(28, 28))), 1 if quick else 8),
    }
    figures = []
    for name, (model, epochs) in runs.items():
        training.compile(model, "adam", 1e-3)
        model.fit(X_train, y_train, batch_size=128, epochs=epochs, verbose=0)
        accuracy = float(model.evaluate(X_test, y_test, batch_size=512, verbose=0, return_dict=True)["accuracy"])
        figures.append(figure(f"{name}: test accuracy", 100 * accuracy, "%",
                              detail=f"{len(X_train):,} training images, {epochs} epoch(s), Adam 1e-3, batch 128"))
    return figures


if __name__ == "__main__":
    main("standin", run, __doc__)
