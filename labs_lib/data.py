"""Offline-first data sets, all with one calling convention.

Every image or toy loader returns a :class:`Splits` (NumPy arrays for train, validation and test, plus
where the data came from); ``splits.datasets(batch_size)`` turns it into batched, shuffled, prefetched
``tf.data`` pipelines. In quick mode (see :mod:`labs_lib.config`) the loaders return small subsets.

Online sources (MNIST, Fashion-MNIST) are downloaded once into ``config.data_dir()`` and checked
against their published checksums every time they are read. When they cannot be reached, the loader
says so and returns a real offline data set of the same size and shapes instead: 70,000 handwritten
digits generated from scikit-learn's bundled 1,797 (:mod:`labs_lib.standin`). A cached file that fails its checksum is
reported and removed, never used. Set ``LABS_OFFLINE=1`` to skip the network altogether.

Images come back as they are published (uint8, 0..255, shape ``(n, 28, 28)``): normalising them is
part of the lessons.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labs_lib import config

OFFLINE_ENV = "LABS_OFFLINE"
DOWNLOAD_TIMEOUT_S = 20.0  # per request; an unreachable host usually fails at once

DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

TOY_SETS = ("moons", "circles", "spirals", "xor")

# Published files and their checksums (algorithm, hex digest). Mirrors are tried in order.
SOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "title": "MNIST",
        "mirrors": ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/"],
        "files": {"mnist.npz": ("sha256", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")},
        "keras_cache": "mnist.npz",
    },
    "fashion_mnist": {
        "title": "Fashion-MNIST",
        "mirrors": [
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        "files": {
            "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
            "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
            "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
        },
        "keras_cache": "fashion-mnist",
    },
}


class DataUnavailable(RuntimeError):
    """An online data set could not be downloaded or verified."""


@dataclass
class Splits:
    """A data set split into train, validation and test arrays, with where it came from."""

    name: str  # what the caller asked for ('mnist')
    source: str  # what was actually loaded, said plainly
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)
    offline_fallback: bool = False  # True when an offline stand-in replaced the requested set

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else int(self.y_train.max()) + 1

    def summary(self) -> str:
        return (
            f"{self.source}: train {self.X_train.shape}, validation {self.X_val.shape}, "
            f"test {self.X_test.shape}, {self.num_classes} classes"
        )

    def datasets(self, batch_size: int = 64, seed: int = 0, transform=None):
        """Three ``tf.data`` pipelines (train shuffled; all batched and prefetched).

        ``transform(X, y) -> (X, y)`` is applied per batch, e.g. to normalise images.
        """
        return (
            to_dataset(self.X_train, self.y_train, batch_size, shuffle=True, seed=seed, transform=transform),
            to_dataset(self.X_val, self.y_val, batch_size, transform=transform),
            to_dataset(self.X_test, self.y_test, batch_size, transform=transform),
        )


@dataclass
class TextCorpus:
    """A plain-text corpus found on every machine."""

    name: str
    source: str
    text: str

    def split(self, val_fraction: float = 0.1) -> tuple[str, str]:
        """The first part for training, the last ``val_fraction`` for validation."""
        cut = int(len(self.text) * (1 - val_fraction))
        return self.text[:cut], self.text[cut:]


def to_unit_range(images, labels):
    """For ``to_dataset(..., transform=to_unit_range)``: a batch of uint8 images to float32 in [0, 1].

    The same values as ``images.astype("float32") / 255`` on the whole set, without a float32 copy of it (four times
    the bytes of the uint8 images). Other inputs (images already scaled, features) pass unchanged.
    """
    import tensorflow as tf

    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    return images, labels


def to_dataset(X, y, batch_size: int = 64, shuffle: bool = False, seed: int = 0, transform=None):
    """A batched, optionally shuffled, prefetched ``tf.data.Dataset`` over ``(X, y)``.

    Under several replicas (``device.setup()`` found several GPUs, or ``LABS_REPLICAS``), the batch size is
    made one whose first batch splits evenly over them (:func:`labs_lib.device.even_first_batch`), since
    Keras needs that while it builds a model: ``batch_size=len(X)`` with 359 examples on 2 replicas gives
    batches of 358 and 1. With one replica ``batch_size`` is used as given.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} vs {len(y)}")
    from labs_lib import device  # here, not at the top: importing data must not import TensorFlow

    batch_size = device.even_first_batch(batch_size, len(X), device.replicas_in_use())
    if shuffle:
        # Shuffle the indices, not the examples: a shuffle buffer of len(X) examples would hold a second copy
        # of the whole data set (hundreds of MB for images); a batch is then gathered from the one copy.
        X_t, y_t = tf.convert_to_tensor(X), tf.convert_to_tensor(y)
        ds = tf.data.Dataset.range(len(X)).shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size).map(lambda i: (tf.gather(X_t, i), tf.gather(y_t, i)))
    else:
        ds = tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size)
    if transform is not None:
        ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- splitting helpers


def _split(X, y, val_fraction: float, test_fraction: float, seed: int):
    """Shuffle once with ``seed`` and cut into train / validation / test."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction and test_fraction must be in [0, 1) and sum below 1, got {val_fraction}, {test_fraction}"
        )
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_test = int(round(len(X) * test_fraction))
    n_val = int(round(len(X) * val_fraction))
    X_test, y_test = X[:n_test], y[:n_test]
    X_val, y_val = X[n_test : n_test + n_val], y[n_test : n_test + n_val]
    return X[n_test + n_val :], y[n_test + n_val :], X_val, y_val, X_test, y_test


def _take(X, y, n: int | None, seed: int):
    """A random subset of ``n`` examples (all when ``n`` is None or larger than the set)."""
    if n is None or n >= len(X):
        return X, y
    idx = np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))
    return X[idx], y[idx]


# --------------------------------------------------------------------------- downloads and cache


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _candidates(key: str, filename: str) -> list[Path]:
    """Where a verified copy may already be: our cache first, then Keras' own cache."""
    spec = SOURCES[key]
    ours = config.data_dir() / key / filename
    keras_name = spec["keras_cache"]
    theirs = _keras_cache_dir() / keras_name if keras_name.endswith(".npz") else _keras_cache_dir() / keras_name / filename
    return [ours, theirs]


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "labs_lib"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, part.open("wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    part.replace(dest)


def fetch(key: str, filename: str) -> Path:
    """Return a verified local copy of one published file, downloading it when needed.

    Raises :class:`DataUnavailable` with the reason when no verified copy can be had.
    """
    spec = SOURCES[key]
    algorithm, expected = spec["files"][filename]
    for path in _candidates(key, filename):
        if not path.exists():
            continue
        if _digest(path, algorithm) == expected:
            return path
        if path.is_relative_to(config.data_dir()):
            path.unlink()
            print(f"Cached file {path} is corrupted ({algorithm} mismatch): removed it.")
        else:
            print(f"Ignoring {path}: its {algorithm} does not match the published file.")
    if _offline():
        raise DataUnavailable(f"{OFFLINE_ENV} is set, so {spec['title']} was not downloaded")
    dest = config.data_dir() / key / filename
    reasons = []
    for mirror in spec["mirrors"]:
        try:
            _download(mirror + filename, dest)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reasons.append(f"{mirror}: {getattr(error, 'reason', error)}")
            continue
        if _digest(dest, algorithm) == expected:
            return dest
        dest.unlink()
        reasons.append(f"{mirror}: downloaded file failed its {algorithm} check")
    raise DataUnavailable(f"{spec['title']} could not be downloaded (" + "; ".join(reasons) + ")")


def cache_status(key: str) -> str:
    """'cached (verified)', 'not cached' or 'corrupted cache' for ``labs doctor``."""
    spec = SOURCES[key]
    states = []
    for filename, (algorithm, expected) in spec["files"].items():
        found = [p for p in _candidates(key, filename) if p.exists()]
        if not found:
            states.append("missing")
        elif any(_digest(p, algorithm) == expected for p in found):
            states.append("ok")
        else:
            states.append("corrupted")
    if all(s == "ok" for s in states):
        return "cached (verified)"
    if "corrupted" in states:
        return "corrupted cache (will be removed and downloaded again)"
    return "not cached"


def source_reachable(key: str, timeout: float = 3.0) -> bool:
    """Whether the first mirror of a data set answers (a HEAD request)."""
    if _offline():
        return False
    spec = SOURCES[key]
    url = spec["mirrors"][0] + next(iter(spec["files"]))
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "labs_lib"})
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST family's format), gzipped."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


# --------------------------------------------------------------------------- offline sources


def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as 8x8 uint8 images (0..255) and their labels."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (1797, 8, 8), 0..1
    return np.round(images * 255).astype(np.uint8), bunch.target.astype(np.int64)


def _quick_sizes(quick: bool | None, n_train_quick: int, n_test_quick: int):
    return (n_train_quick, n_test_quick) if config.is_quick(quick) else (None, None)


def load_digits(
    quick: bool | None = None, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> Splits:
    """scikit-learn's handwritten digits (8x8 uint8 images, 10 classes); always offline.

    ``quick`` is accepted like every loader's, but the set is always whole: its 1,797 images are small enough.
    """
    X, y = _digits_raw()
    parts = _split(X, y, val_fraction, test_fraction, seed)
    return Splits("digits", "scikit-learn handwritten digits (8x8, bundled)", *parts, class_names=DIGIT_NAMES)


def _fallback_standin(name: str, reason: str, quick: bool | None) -> Splits:
    """The MNIST-sized stand-in (:mod:`labs_lib.standin`) in place of an online set, said aloud."""
    from labs_lib import standin

    title = SOURCES[name]["title"]
    what = "digits, not clothing: " if name == "fashion_mnist" else ""
    print(
        f"{reason}.\nUsing the offline fallback instead: an MNIST-sized set of handwritten {what}digits generated "
        "from scikit-learn's 1,797 by random affine and elastic distortions (55,000 training, 5,000 validation "
        f"and 10,000 test images, 28x28 uint8; test digits come from source digits never trained on). Accuracy "
        f"figures will differ from {title}'s. Connect to the internet once to download and cache the real data set."
    )
    source = standin.TITLE
    if config.is_quick(quick):
        n_train, n_eval = 4000, 1000
        parts = {split: standin.generate(split, n) for split, n in (("train", n_train), ("val", n_eval), ("test", n_eval))}
        arrays = {f"{k}_{split}": v for split, (X, y, _) in parts.items() for k, v in (("X", X), ("y", y))}
        source += " (quick-mode subset)"
    else:
        arrays, path = standin.load_full()
        source += f" ({path})"
    splits = Splits(name, source, arrays["X_train"], arrays["y_train"], arrays["X_val"], arrays["y_val"],
                    arrays["X_test"], arrays["y_test"], class_names=DIGIT_NAMES, offline_fallback=True)
    return splits


def _finish(name, source, X_train, y_train, X_test, y_test, class_names, quick, seed, val_fraction):
    n_val = int(round(len(X_train) * val_fraction))
    order = np.random.default_rng(seed).permutation(len(X_train))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    X_val, y_val = X_train[val_idx], y_train[val_idx]
    X_train, y_train = X_train[train_idx], y_train[train_idx]
    n_train, n_test = _quick_sizes(quick, 4000, 1000)
    X_train, y_train = _take(X_train, y_train, n_train, seed)
    X_val, y_val = _take(X_val, y_val, n_test, seed + 1)
    X_test, y_test = _take(X_test, y_test, n_test, seed + 2)
    if config.is_quick(quick):
        source += " (quick-mode subset)"
    return Splits(name, source, X_train, y_train.astype(np.int64), X_val, y_val.astype(np.int64),
                  X_test, y_test.astype(np.int64), class_names=class_names)


def load_mnist(quick: bool | None = None, seed: int = 0, val_fraction: float = 1 / 12) -> Splits:
    """MNIST handwritten digits (60,000 + 10,000 images, 28x28 uint8), with the offline fallback.

    The validation set is cut from the training set (5,000 images by default).
    Quick mode keeps 4,000 training and 1,000 validation and test images.
    """
    try:
        path = fetch("mnist", "mnist.npz")
    except DataUnavailable as error:
        return _fallback_standin("mnist", str(error), quick)
    with np.load(path) as f:
        X_train, y_train, X_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return _finish("mnist", f"MNIST ({path})", X_train, y_train, X_test, y_test, DIGIT_NAMES, quick, seed, val_fraction)


def load_fashion_mnist(quick: bool | None = None, seed: int = 0, val_fraction: float = 1 / 12) -> Splits:
    """Fashion-MNIST (clothing, 28x28 uint8, 10 classes), with the offline fallback."""
    try:
        paths = {f: fetch("fashion_mnist", f) for f in SOURCES["fashion_mnist"]["files"]}
    except DataUnavailable as error:
        return _fallback_standin("fashion_mnist", str(error), quick)
    X_train = _read_idx(paths["train-images-idx3-ubyte.gz"])
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"])
    X_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"])
    folder = paths["train-images-idx3-ubyte.gz"].parent
    return _finish("fashion_mnist", f"Fashion-MNIST ({folder})", X_train, y_train, X_test, y_test,
                   FASHION_NAMES, quick, seed, val_fraction)


# --------------------------------------------------------------------------- translated digits


def translate_to_canvas(images: np.ndarray, canvas_size: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each image pasted at a random place on a larger blank canvas: ``(canvases, offsets)``.

    ``images`` is ``(n, h, w)`` (e.g. uint8 28x28 digits); the result is ``(n, canvas_size, canvas_size)`` of the
    same dtype, image ``i`` with its top-left corner at ``offsets[i] = (row, col)``, each drawn uniformly from
    ``0 .. canvas_size - h`` (``- w``) by a generator seeded with ``seed``: the same call gives the same set.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    n, height, width = images.shape
    if canvas_size < max(height, width):
        raise ValueError(f"canvas_size must be >= the image size ({height}x{width}), got {canvas_size}")
    rng = np.random.default_rng(seed)
    offsets = np.stack([rng.integers(0, canvas_size - height + 1, n),
                        rng.integers(0, canvas_size - width + 1, n)], axis=1)  # (n, 2): row, column
    canvases = np.zeros((n, canvas_size, canvas_size), images.dtype)
    for i, (row, col) in enumerate(offsets):
        canvases[i, row : row + height, col : col + width] = images[i]
    return canvases, offsets


# --------------------------------------------------------------------------- 2-D toy sets


def make_toy(name: str, n_samples: int = 400, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One 2-D toy set as ``(X, y)``: 'moons', 'circles', 'spirals' or 'xor', two classes."""
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy set {name!r}: choose one of {TOY_SETS}")
    if n_samples < 4:
        raise ValueError(f"n_samples must be >= 4, got {n_samples}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    if name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(n_samples, noise=noise, random_state=seed)
    elif name == "circles":
        from sklearn.datasets import make_circles

        X, y = make_circles(n_samples, noise=noise, factor=0.5, random_state=seed)
    elif name == "spirals":
        n = n_samples // 2
        t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi  # angle along the arm; sqrt(U): ~even per arc length
        arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
        X = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n, 2))
        y = np.concatenate([np.zeros(n), np.ones(n)])
    else:  # xor: the label is whether the two coordinates have the same sign
        X = rng.uniform(-1, 1, (n_samples, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(int)
        X = X + rng.normal(0, noise, X.shape)
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), np.asarray(y)[order].astype(np.int64)


def load_toy(
    name: str, n_samples: int = 400, noise: float = 0.1, seed: int = 0,
    val_fraction: float = 0.2, test_fraction: float = 0.2,
) -> Splits:
    """A 2-D toy set split into train / validation / test (generated locally, always offline)."""
    X, y = make_toy(name, n_samples, noise, seed)
    parts = _split(X, y, val_fraction, test_fraction, seed)
    return Splits(name, f"{name} (2-D, {n_samples} points, noise {noise}, generated)", *parts, class_names=["0", "1"])


# --------------------------------------------------------------------------- text


def load_text_corpus(quick: bool | None = None) -> TextCorpus:
    """The Python language reference's topic pages (about 460,000 characters of English prose).

    They ship with CPython itself (``pydoc_data.topics``, what ``help('if')`` prints), so they exist on
    every machine that runs the course. Quick mode keeps the first 60,000 characters.
    """
    try:
        from pydoc_data.topics import topics

        text = "\n\n".join(topics[key].strip() for key in sorted(topics))
        source = "Python language reference topics (pydoc_data, bundled with CPython)"
    except ImportError:  # some Linux distributions split pydoc_data out
        import importlib

        names = ["abc", "argparse", "collections", "contextlib", "dataclasses", "functools", "itertools",
                 "json", "logging", "pathlib", "random", "re", "statistics", "string", "textwrap", "typing"]
        docs = [importlib.import_module(n).__doc__ or "" for n in names]
        text = "\n\n".join(d.strip() for d in docs if d)
        source = "docstrings of Python standard-library modules (bundled with CPython)"
    if config.is_quick(quick):
        text, source = text[:60_000], source + " (quick-mode excerpt)"
    return TextCorpus("python-docs", source, text)


# --------------------------------------------------------------------------- one entry point

LOADERS = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
}


def load(name: str, **kwargs) -> Splits:
    """``load('mnist', quick=QUICK)``, ``load('moons', noise=0.2)``: any data set by name."""
    if name in LOADERS:
        return LOADERS[name](**kwargs)
    if name in TOY_SETS:
        return load_toy(name, **kwargs)
    raise ValueError(f"unknown data set {name!r}: choose one of {sorted(LOADERS) + list(TOY_SETS)}")
