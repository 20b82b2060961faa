"""The offline stand-in for MNIST: 70,000 handwritten digits generated from scikit-learn's 1,797.

When MNIST cannot be downloaded, :func:`labs_lib.data.load_mnist` returns this set instead. It has
MNIST's sizes and format (55,000 training, 5,000 validation and 10,000 test images, 28x28, uint8 0..255)
and is made reproducibly from real handwriting, scikit-learn's bundled 8x8 digits:

1. each 8x8 digit is upscaled (cubic spline) to 20x20 and centred in a 28x28 canvas, as MNIST does;
2. every generated image takes one source digit and draws a random affine transform (rotation,
   scale, aspect, shear, shift) and an elastic distortion (a random displacement field smoothed by a
   Gaussian, Simard et al. 2003), samples the canvas through both, and sets a random ink contrast.

The split is made by *source* image first: 300 source digits only ever make test images, 125 only
validation images, the other 1,372 only training images. No test image derives from a digit that a
model trained on, so test accuracy measures generalisation to new handwriting, not to new distortions
of digits already seen.

Images are made in chunks of :data:`CHUNK` with a random generator seeded by (split, chunk), so the
first ``n`` images of a split are the same whether 4,000 or all 55,000 are made: quick mode generates
just the slice it uses, in about a second, and never builds the whole set. The whole set is built once
(under 10 s on 2 cores), then cached in ``config.data_dir()`` with its SHA-256, checked on every read.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labs_lib import config

VERSION = 2  # bump when the recipe changes: the cache file's name carries it
GENERATOR_SEED = 20_261_202  # fixed: the stand-in is one data set, as MNIST is, whatever seed a lesson uses
CHUNK = 1_000  # images per generator chunk
SIZES = {"train": 55_000, "val": 5_000, "test": 10_000}  # MNIST's 60,000 + 10,000, validation cut by source
SOURCE_COUNTS = {"test": 300, "val": 125}  # source digits kept apart for each split; the rest train
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}

TITLE = "MNIST-sized offline stand-in generated from scikit-learn's 1,797 digits (offline fallback)"


@dataclass(frozen=True)
class Recipe:
    """The random transforms, one draw per image (degrees and pixels; comments give the range)."""

    rotation_deg: float = 12.0  # uniform in +-12 degrees
    scale: tuple[float, float] = (0.75, 1.05)  # of the 20x20 digit
    aspect: tuple[float, float] = (0.85, 1.1)  # width / height change
    shear: float = 0.25  # uniform in +-0.25 (tangent of the shear angle)
    shift_px: float = 2.5  # uniform in +-2.5 pixels, each axis
    elastic_alpha: float = 14.0  # displacement scale (Simard et al. use 34 at 29x29; milder here, about 0.6 px rms)
    elastic_sigma: float = 4.0  # smoothness of the displacement field, pixels
    ink_gain: tuple[float, float] = (1.3, 2.2)  # contrast: strokes saturate at 255 as MNIST's do
    ink_floor: float = 0.08  # grey below this (the blur's halo) becomes 0


RECIPE = Recipe()


# --------------------------------------------------------------------------- sources


def _sources() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The 1,797 digits on 28x28 canvases (float32, 0..1), their labels, and the source ids of each split."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (1797, 8, 8), 0..1
    digit = np.clip(zoom(images, (1, 20 / 8, 20 / 8), order=3), 0, 1)  # (1797, 20, 20)
    canvas = np.zeros((len(images), 28, 28), np.float32)
    canvas[:, 4:24, 4:24] = digit
    order = np.random.default_rng(GENERATOR_SEED).permutation(len(images))
    n_test, n_val = SOURCE_COUNTS["test"], SOURCE_COUNTS["val"]
    ids = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
    return canvas, bunch.target.astype(np.int64), ids


_SOURCE_CACHE: tuple | None = None


def sources() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """:func:`_sources`, computed once per process."""
    global _SOURCE_CACHE
    if _SOURCE_CACHE is None:
        _SOURCE_CACHE = _sources()
    return _SOURCE_CACHE


# --------------------------------------------------------------------------- generation


def _warp(canvas: np.ndarray, source_ids: np.ndarray, rng: np.random.Generator, recipe: Recipe) -> np.ndarray:
    """One chunk: each image samples its source canvas through a random affine map and elastic field."""
    from scipy import ndimage

    n = len(source_ids)
    angle = np.deg2rad(rng.uniform(-recipe.rotation_deg, recipe.rotation_deg, n))
    scale = rng.uniform(*recipe.scale, n)
    aspect = rng.uniform(*recipe.aspect, n)
    shear = rng.uniform(-recipe.shear, recipe.shear, n)
    shift = rng.uniform(-recipe.shift_px, recipe.shift_px, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    sx, sy = scale * aspect, scale / aspect
    # forward map (canvas -> image) = rotation @ shear @ scale; sampling needs its inverse
    forward = np.stack([np.stack([cos * sy, (cos * shear - sin) * sx], -1),
                        np.stack([sin * sy, (sin * shear + cos) * sx], -1)], -2)
    inverse = np.linalg.inv(forward)  # (n, 2, 2)
    centre = 13.5
    rows, cols = np.meshgrid(np.arange(28) - centre, np.arange(28) - centre, indexing="ij")
    grid = np.stack([rows.ravel(), cols.ravel()])  # (2, 784), output pixel positions around the centre
    where = np.einsum("nij,njk->nik", inverse, grid[None] - shift[:, :, None]) + centre  # (n, 2, 784)
    field = rng.uniform(-1, 1, (n, 2, 28, 28)).astype(np.float32)
    field = ndimage.gaussian_filter(field, sigma=(0, 0, recipe.elastic_sigma, recipe.elastic_sigma), mode="constant")
    where = where.reshape(n, 2, 28, 28) + recipe.elastic_alpha * field
    index = np.broadcast_to(source_ids[:, None, None].astype(np.float64), (n, 28, 28))
    ink = ndimage.map_coordinates(canvas, np.stack([index, where[:, 0], where[:, 1]]), order=1, cval=0.0)
    gain = rng.uniform(*recipe.ink_gain, n)[:, None, None]
    ink = np.clip((ink - recipe.ink_floor) * gain, 0, 1)
    return np.round(ink * 255).astype(np.uint8)


def chunk(split: str, k: int, recipe: Recipe = RECIPE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images ``k*CHUNK .. (k+1)*CHUNK-1`` of a split: ``(X uint8 (n, 28, 28), y, source ids)``.

    Image ``i`` of a split comes from source digit ``ids[split][i % len(ids[split])]``: consecutive
    images cycle through all of the split's source digits before any repeats.
    """
    if split not in SIZES:
        raise ValueError(f"unknown split {split!r}: choose one of {sorted(SIZES)}")
    start, stop = k * CHUNK, min((k + 1) * CHUNK, SIZES[split])
    if not 0 <= start < stop:
        raise ValueError(f"chunk {k} is outside the {split} split ({SIZES[split]:,} images)")
    canvas, labels, ids = sources()
    own = ids[split]
    source_ids = own[np.arange(start, stop) % len(own)]
    rng = np.random.default_rng([GENERATOR_SEED, VERSION, SPLIT_IDS[split], k])
    return _warp(canvas, source_ids, rng, recipe), labels[source_ids], source_ids


def generate(split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n`` images of a split (all when None), generated; ``(X, y, source ids)``."""
    total = SIZES[split] if n is None else n
    if not 0 < total <= SIZES[split]:
        raise ValueError(f"n must be between 1 and {SIZES[split]:,} for the {split} split, got {n}")
    parts = [chunk(split, k) for k in range(-(-total // CHUNK))]
    X, y, src = (np.concatenate(p) for p in zip(*parts, strict=True))
    return X[:total], y[:total], src[:total]


# --------------------------------------------------------------------------- the cache


def cache_path() -> Path:
    return config.data_dir() / "mnist_standin" / f"standin-v{VERSION}.npz"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _info_path(path: Path) -> Path:
    return path.with_suffix(".json")


def cache_status() -> str:
    """'cached (verified)', 'not built' or 'corrupted cache' for ``labs doctor``."""
    path = cache_path()
    if not path.exists():
        return "not built (built on first full-mode use, about 10 s)"
    return "cached (verified)" if _verified(path) else "corrupted cache (will be rebuilt)"


def _verified(path: Path) -> bool:
    try:
        info = json.loads(_info_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("sha256") == _sha256(path)


def build(path: Path | None = None) -> dict:
    """Generate the whole set and write it (atomically) with its SHA-256; returns the build record."""
    path = path or cache_path()
    start = time.perf_counter()
    arrays = {}
    for split in SIZES:
        X, y, src = generate(split)
        arrays.update({f"X_{split}": X, f"y_{split}": y, f"source_{split}": src})
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.stem}.{os.getpid()}.part.npz")
    np.savez(part, **arrays)
    digest = _sha256(part)
    info = {"version": VERSION, "sha256": digest, "build_seconds": round(seconds, 2), **stats(arrays["X_train"])}
    # the record first, then the data, each by an atomic rename: a process that finds the data finds its record
    # (two kernels building at once, as in parallel test runs, write the same bytes; neither sees a half file)
    info_part = _info_path(part)
    info_part.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    info_part.replace(_info_path(path))
    part.replace(path)
    return info


def load_full() -> tuple[dict[str, np.ndarray], str]:
    """All three splits from the verified cache, building it first when missing or damaged."""
    path = cache_path()
    if path.exists() and not _verified(path):
        path.unlink(missing_ok=True)
        print(f"The cached stand-in {path} failed its SHA-256 check: removed it, building it again.")
    if not path.exists():
        print("Building the MNIST-sized offline stand-in once (about 10 s on 2 cores); "
              f"it is cached in {path.parent}.")
        build(path)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}, str(path)


def stats(X: np.ndarray) -> dict:
    """Where the ink is: pixels that are zero in every image, and pixels inked in under 1% of images."""
    inked = (X > 0).mean(axis=0)  # (28, 28): share of images with ink at each pixel
    pixels = inked.size
    return {
        "images": int(len(X)),
        "always_zero_pixels": int((inked == 0).sum()),
        "always_zero_share": float((inked == 0).sum() / pixels),
        "rarely_inked_share": float((inked < 0.01).sum() / pixels),
        "mean_ink_share": float((X > 0).mean()),
    }
