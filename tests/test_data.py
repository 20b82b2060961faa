import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest

from labs_lib import data


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("network unreachable (test)")


def _fake_mnist_bytes(n_train=120, n_test=30) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, n_train).astype(np.uint8),
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, n_test).astype(np.uint8))
    return buffer.getvalue()


@pytest.fixture
def fake_mnist(monkeypatch):
    """Fake MNIST bytes, registered as the published file (its sha256 replaces the real one)."""
    payload = _fake_mnist_bytes()
    monkeypatch.setitem(data.SOURCES["mnist"], "files", {"mnist.npz": ("sha256", hashlib.sha256(payload).hexdigest())})
    return payload


def test_unreachable_mnist_falls_back_to_the_offline_standin_and_says_so(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    splits = data.load("mnist", quick=True)
    said = capsys.readouterr().out
    assert "could not be downloaded" in said and "offline fallback" in said and "network unreachable" in said
    assert splits.offline_fallback
    assert "offline fallback" in splits.source and "quick-mode subset" in splits.source
    assert splits.X_train.shape == (4000, 28, 28) and splits.X_train.dtype == np.uint8
    assert splits.X_val.shape == splits.X_test.shape == (1000, 28, 28)
    assert splits.X_train.max() == 255  # 0..255 like MNIST, not 0..16 like the raw digits
    assert set(np.unique(splits.y_train)) == set(range(10))
    assert not (data_dir / "mnist_standin").exists(), "quick mode must never build (or cache) the whole set"


@pytest.mark.slow
def test_standin_is_mnist_sized_split_by_source_cached_and_checked(data_dir, monkeypatch, capsys):
    from labs_lib import standin

    monkeypatch.setenv("LABS_OFFLINE", "1")
    full = data.load_mnist(quick=False)
    assert "Building the MNIST-sized offline stand-in" in capsys.readouterr().out
    assert (len(full.X_train), len(full.X_val), len(full.X_test)) == (55_000, 5_000, 10_000)
    assert full.X_train.shape[1:] == (28, 28) and full.X_train.dtype == np.uint8
    with np.load(standin.cache_path()) as f:
        train, val, test = (set(f[f"source_{s}"].tolist()) for s in ("train", "val", "test"))
    assert not (train & test) and not (train & val) and not (val & test), "no image may share a source digit"
    assert len(train | val | test) == 1797
    # ink spread over the canvas: MNIST itself has 67 of 784 pixels zero in every training image
    assert standin.stats(full.X_train)["always_zero_share"] < 0.10
    # quick mode's slice is the start of the full set, generated without it
    quick = data.load_mnist(quick=True)
    np.testing.assert_array_equal(quick.X_train, full.X_train[:4000])
    np.testing.assert_array_equal(quick.X_test, full.X_test[:1000])
    np.testing.assert_array_equal(quick.y_val, full.y_val[:1000])
    # the second full load reads the verified cache and generates nothing
    monkeypatch.setattr(standin, "generate", lambda *a, **k: pytest.fail("rebuilt despite a verified cache"))
    again = data.load_mnist(quick=False)
    np.testing.assert_array_equal(again.X_train, full.X_train)
    assert standin.cache_status() == "cached (verified)"


def test_damaged_standin_cache_is_removed_and_rebuilt(data_dir, monkeypatch, capsys):
    from labs_lib import standin

    monkeypatch.setattr(standin, "SIZES", {"train": 2_000, "val": 500, "test": 1_000})
    first = standin.load_full()[0]
    path = standin.cache_path()
    path.write_bytes(path.read_bytes()[:-1000])  # a truncated file
    assert standin.cache_status().startswith("corrupted")
    second = standin.load_full()[0]
    assert "failed its SHA-256 check" in capsys.readouterr().out
    np.testing.assert_array_equal(first["X_train"], second["X_train"])
    assert standin.cache_status() == "cached (verified)"


def test_standin_generation_is_deterministic_and_checks_its_arguments():
    from labs_lib import standin

    a, ya, _ = standin.generate("val", 1500)
    b, yb, _ = standin.generate("val", 1500)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert len({x.tobytes() for x in a}) == 1500, "every generated image differs"
    with pytest.raises(ValueError, match="between 1 and 5,000"):
        standin.generate("val", 6000)
    with pytest.raises(ValueError, match="unknown split"):
        standin.chunk("holdout", 0)


def test_labs_offline_skips_the_network_entirely(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("LABS_OFFLINE", "1")
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used while offline"))
    splits = data.load("fashion_mnist")
    assert splits.offline_fallback
    assert "LABS_OFFLINE is set" in capsys.readouterr().out


def test_download_is_cached_verified_and_not_repeated(data_dir, fake_mnist, monkeypatch):
    calls = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        calls.append(request.full_url)
        return Response(fake_mnist)

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    first = data.load_mnist(quick=False, seed=1)
    assert calls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"]
    assert not first.offline_fallback and first.source.startswith("MNIST")
    assert (data_dir / "mnist" / "mnist.npz").read_bytes() == fake_mnist
    assert len(first.X_train) + len(first.X_val) == 120 and len(first.X_test) == 30
    second = data.load_mnist(quick=False, seed=1)
    assert len(calls) == 1, "a verified cache must be used without downloading again"
    np.testing.assert_array_equal(first.X_train, second.X_train)
    assert data.cache_status("mnist") == "cached (verified)"


def test_cached_mnist_is_used_offline(data_dir, fake_mnist, monkeypatch):
    (data_dir / "mnist").mkdir(parents=True)
    (data_dir / "mnist" / "mnist.npz").write_bytes(fake_mnist)
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used despite a cache"))
    splits = data.load_mnist(quick=False)
    assert not splits.offline_fallback
    assert str(data_dir) in splits.source


def test_keras_cache_is_used_too(data_dir, fake_mnist, tmp_path, monkeypatch):
    keras_file = tmp_path / "keras" / "datasets" / "mnist.npz"
    keras_file.parent.mkdir(parents=True)
    keras_file.write_bytes(fake_mnist)
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    assert not data.load_mnist().offline_fallback


def test_corrupted_cache_is_reported_removed_and_never_used(data_dir, fake_mnist, monkeypatch, capsys):
    cached = data_dir / "mnist" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(fake_mnist[:-100] + b"x" * 100)  # a truncated, damaged download
    assert data.cache_status("mnist").startswith("corrupted")
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    splits = data.load_mnist()
    said = capsys.readouterr().out
    assert "is corrupted" in said and "removed" in said
    assert not cached.exists()
    assert splits.offline_fallback


def test_download_that_fails_its_checksum_is_discarded(data_dir, fake_mnist, monkeypatch, capsys):
    def download(url, dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"<html>captive portal</html>")

    monkeypatch.setattr(data, "_download", download)
    splits = data.load_mnist()
    assert splits.offline_fallback
    assert "failed its sha256 check" in capsys.readouterr().out
    assert not (data_dir / "mnist" / "mnist.npz").exists()


def _idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files_are_parsed(data_dir, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (50, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 50),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 20),
    }
    files = {}
    for name, array in arrays.items():
        payload = _idx_gz(array)
        (data_dir / "fashion_mnist").mkdir(parents=True, exist_ok=True)
        (data_dir / "fashion_mnist" / name).write_bytes(payload)
        files[name] = ("md5", hashlib.md5(payload).hexdigest())
    monkeypatch.setitem(data.SOURCES["fashion_mnist"], "files", files)
    splits = data.load_fashion_mnist(quick=False, val_fraction=0.2)
    assert not splits.offline_fallback
    assert splits.class_names[0] == "T-shirt/top"
    np.testing.assert_array_equal(np.sort(np.concatenate([splits.y_train, splits.y_val])),
                                  np.sort(arrays["train-labels-idx1-ubyte.gz"]))
    np.testing.assert_array_equal(splits.X_test, arrays["t10k-images-idx3-ubyte.gz"])


def test_quick_mode_takes_subsets(data_dir, monkeypatch):
    payload = _fake_mnist_bytes(n_train=6000, n_test=2000)
    monkeypatch.setitem(data.SOURCES["mnist"], "files", {"mnist.npz": ("sha256", hashlib.sha256(payload).hexdigest())})
    (data_dir / "mnist").mkdir(parents=True)
    (data_dir / "mnist" / "mnist.npz").write_bytes(payload)
    quick, full = data.load_mnist(quick=True), data.load_mnist(quick=False)
    assert len(quick.X_train) == 4000 and len(quick.X_test) == 1000 and "quick" in quick.source
    assert len(full.X_train) == 5500 and len(full.X_test) == 2000


def test_digits_are_offline_and_split_without_overlap():
    splits = data.load("digits", seed=3)
    assert splits.X_train.shape[1:] == (8, 8)
    assert len(splits.X_train) + len(splits.X_val) + len(splits.X_test) == 1797
    flat = {x.tobytes() for x in splits.X_test}
    assert sum(x.tobytes() in flat for x in splits.X_train) < 5  # the digits set has a few exact duplicates


@pytest.mark.parametrize("name", data.TOY_SETS)
def test_toy_sets(name):
    X, y = data.make_toy(name, n_samples=300, noise=0.05, seed=1)
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert set(np.unique(y)) == {0, 1}
    assert 0.3 < y.mean() < 0.7
    X2, y2 = data.make_toy(name, n_samples=300, noise=0.05, seed=1)
    np.testing.assert_array_equal(X, X2)
    splits = data.load(name, n_samples=300)
    assert len(splits.X_train) == 180 and len(splits.X_val) == 60 and len(splits.X_test) == 60


def test_xor_labels_follow_the_sign_rule_without_noise():
    X, y = data.make_toy("xor", n_samples=200, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))


@pytest.mark.parametrize("kwargs, message", [({"name": "swirls"}, "unknown toy set"),
                                             ({"name": "moons", "noise": -1}, "noise must be"),
                                             ({"name": "moons", "n_samples": 1}, "n_samples")])
def test_bad_toy_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.make_toy(**kwargs)


def test_unknown_data_set_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        data.load("imagenet")


def test_tf_pipelines_are_batched_shuffled_and_transformed():
    splits = data.load("digits", seed=0)
    train, val, test = splits.datasets(batch_size=32, seed=0, transform=lambda X, y: (X / 255, y))
    X, y = next(iter(train))
    assert X.shape == (32, 8, 8) and y.shape == (32,)
    assert float(X.numpy().max()) <= 1.0
    assert not np.array_equal(y.numpy(), splits.y_train[:32]), "the training pipeline should be shuffled"
    Xv, yv = next(iter(val))
    np.testing.assert_array_equal(yv.numpy(), splits.y_val[:32])  # validation keeps its order
    assert sum(int(b[1].shape[0]) for b in test) == len(splits.X_test)


def test_text_corpus_exists_offline():
    corpus = data.load_text_corpus(quick=False)
    assert len(corpus.text) > 100_000
    assert "statement" in corpus.text
    quick = data.load_text_corpus(quick=True)
    assert len(quick.text) == 60_000 and quick.text == corpus.text[:60_000]
    train, val = corpus.split(0.1)
    assert train + val == corpus.text and abs(len(val) - len(corpus.text) / 10) < 2


def test_translated_digits_are_reproducible_and_keep_every_pixel():
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, (50, 28, 28)).astype(np.uint8)  # no zero pixel: the ink is easy to find
    canvases, offsets = data.translate_to_canvas(images, canvas_size=40, seed=3)
    assert canvases.shape == (50, 40, 40) and canvases.dtype == np.uint8 and offsets.shape == (50, 2)
    assert offsets.min() >= 0 and offsets.max() <= 12 and len({tuple(o) for o in offsets}) > 10  # spread out
    for image, canvas, (row, col) in zip(images, canvases, offsets, strict=True):
        np.testing.assert_array_equal(canvas[row : row + 28, col : col + 28], image)
        assert int((canvas > 0).sum()) == 28 * 28  # nothing else is inked
    again, same_offsets = data.translate_to_canvas(images, canvas_size=40, seed=3)
    np.testing.assert_array_equal(again, canvases)
    np.testing.assert_array_equal(same_offsets, offsets)
    _, other = data.translate_to_canvas(images, canvas_size=40, seed=4)
    assert not np.array_equal(other, offsets)
    with pytest.raises(ValueError, match="canvas_size"):
        data.translate_to_canvas(images, canvas_size=20)
    with pytest.raises(ValueError, match="shape"):
        data.translate_to_canvas(images[0])


def test_to_unit_range_scales_uint8_batches_as_the_whole_set_would_be_and_passes_the_rest():
    images = np.random.default_rng(0).integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    labels = np.arange(10)
    batches = list(data.to_dataset(images, labels, 4, shuffle=True, seed=3, transform=data.to_unit_range))
    X = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert X.dtype == np.float32 and sorted(y) == list(labels)
    np.testing.assert_array_equal(X, images[y].astype("float32") / 255.0)  # the same floats, shuffled order
    features = np.linspace(0, 3, 12, dtype=np.float32).reshape(4, 3)  # already floats: unchanged
    (out, _), = data.to_dataset(features, labels[:4], 4, transform=data.to_unit_range)
    np.testing.assert_array_equal(out.numpy(), features)
