"""The course's own pretrained model: a small character-level GPT pretrained on the course corpus (lesson 11).

The checkpoint ships inside the package (``labs_lib/checkpoints/course_gpt.npz``, about 0.45 MB), so a
student's run never spends minutes pretraining and pip or Colab installs get it too. Its SHA-256 is written
below (:data:`SHA256`); :func:`load_course_gpt` checks it before loading and says what to do when it differs.
:func:`pretrain` is the deterministic command that rebuilt the file (``labs pretrain``): the same seed,
batches and steps on the same machine and versions give the same bytes.

- :data:`CONFIG`: the model's :class:`labs_lib.models.GPTConfig` (2 blocks, d_model 64, 101 characters);
- :class:`CharTokenizer`: printable ASCII plus one token for any other character;
- :func:`load_course_gpt`: ``(model, tokenizer)``, the checkpoint in a :func:`labs_lib.models.build_gpt` model;
- :func:`pretrain`: trains it again and writes the file (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import string
import time
import zipfile
from pathlib import Path

import numpy as np

from labs_lib import models

CHECKPOINT = Path(__file__).parent / "checkpoints" / "course_gpt.npz"
SHA256 = "dd5a837818434603c8f75a1c16dcd85308043fc6906a9a086ab0d3efc332173e"  # of CHECKPOINT, set by `labs pretrain`
UNKNOWN = "\ufffd"  # the token for every character outside printable ASCII (e.g. the corpus's curly quotes)
VOCABULARY = "".join(sorted(set(string.printable))) + UNKNOWN  # 100 printable ASCII characters + UNKNOWN
CONFIG = models.GPTConfig(
    vocab_size=len(VOCABULARY),  # 101 characters
    seq_len=64,  # context length: characters with a learned position vector
    d_model=64,  # size of each token vector
    num_heads=4,  # attention heads per block
    num_layers=2,  # Transformer blocks
    ff_dim=256,  # hidden units of each feed-forward network (4 x d_model)
    dropout=0.0,  # none: a model this small underfits the corpus
)
PRETRAIN = {"num_steps": 2000, "batch_size": 64, "lr": 2e-3, "warmup_steps": 100, "stride": 8, "seed": 0}
REBUILD = "labs pretrain  (rebuilds labs_lib/checkpoints/course_gpt.npz; a few minutes on a CPU)"


class CharTokenizer:
    """One token per character of :data:`VOCABULARY`; any other character becomes :data:`UNKNOWN`."""

    def __init__(self, vocabulary: str = VOCABULARY):
        self.chars = list(vocabulary)
        self.char_to_id = {ch: i for i, ch in enumerate(self.chars)}
        self.unknown_id = self.char_to_id[UNKNOWN]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.char_to_id.get(ch, self.unknown_id) for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


class ChecksumError(RuntimeError):
    """The checkpoint file is not the one the course shipped."""


def sha256(path: Path | str) -> str:
    """The SHA-256 of a file, as 64 hexadecimal digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` file whose bytes depend only on the arrays: entries in sorted order, stored (no compression,
    so no zlib version matters) with a fixed date, where ``np.savez`` stamps the time of writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def load_weights(path: Path | str = CHECKPOINT, expected_sha256: str | None = SHA256) -> dict[str, np.ndarray]:
    """The checkpoint's arrays by variable path, after checking its SHA-256 (``expected_sha256=None``: no check)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: reinstall the course package (pip install -e .) or "
                                f"rebuild it with `{REBUILD}`")
    if expected_sha256 is not None:
        found = sha256(path)
        if found != expected_sha256:
            raise ChecksumError(
                f"{path} has SHA-256 {found}, but the course shipped {expected_sha256}: the file is damaged or was "
                "replaced. Restore it (git checkout labs_lib/checkpoints/course_gpt.npz, or reinstall the package); "
                f"a checkpoint rebuilt with `{REBUILD}` on another machine or with other versions of Python and "
                "TensorFlow has other bytes: load it with load_course_gpt(expected_sha256=None)")
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load_course_gpt(path: Path | str = CHECKPOINT, expected_sha256: str | None = SHA256, dtype: str | None = None,
                    profile=None):
    """The course GPT with its pretrained weights, and its tokenizer: ``(model, tokenizer)``.

    The model is a :func:`labs_lib.models.build_gpt` model with :data:`CONFIG` (built in the device profile's
    strategy and precision; ``dtype="float32"`` computes in float32 under mixed precision too).
    """
    arrays = load_weights(path, expected_sha256)
    vocabulary = "".join(chr(c) for c in arrays.pop("vocabulary"))
    if vocabulary != VOCABULARY:
        raise ValueError(f"{path} was trained with another vocabulary ({len(vocabulary)} characters)")
    model = models.build_gpt(dataclasses.replace(CONFIG, dtype=dtype), profile=profile)
    variables = {variable.path: variable for variable in model.weights}
    if set(variables) != set(arrays):
        raise ValueError(f"{path} does not fit the course GPT: missing {sorted(set(variables) - set(arrays))[:3]}, "
                         f"unexpected {sorted(set(arrays) - set(variables))[:3]}")
    for name, value in arrays.items():
        variables[name].assign(value)
    return model, CharTokenizer(vocabulary)


def corpus_windows(tokenizer: CharTokenizer, seq_len: int = CONFIG.seq_len, stride: int = PRETRAIN["stride"],
                   val_fraction: float = 0.1):
    """Pretraining windows ``(X_train, Y_train, X_val, Y_val)`` of the full course corpus (the last 10% for
    validation, windows side by side there), targets shifted by one character."""
    from labs_lib import data

    train_text, val_text = data.load_text_corpus(quick=False).split(val_fraction)

    def windows(text, step):
        ids = np.asarray(tokenizer.encode(text), dtype=np.int32)
        w = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::step]
        return np.ascontiguousarray(w[:, :-1]), np.ascontiguousarray(w[:, 1:])

    return (*windows(train_text, stride), *windows(val_text, seq_len))


def pretrain(path: Path | str = CHECKPOINT, num_steps: int = PRETRAIN["num_steps"], seed: int = PRETRAIN["seed"],
             verbose: bool = True) -> dict:
    """Pretrain the course GPT from scratch, deterministically, and write it to ``path``.

    Adam with a linear warm-up and a cosine decay (lesson 10's schedule), batches of 64 windows drawn with
    ``seed``, float32 on one device (whatever ``LABS_PRECISION``/``LABS_REPLICAS`` say), deterministic kernels.
    Returns ``{"path", "sha256", "val_loss", "seconds"}``.
    """
    import keras
    import tensorflow as tf

    from labs_lib import config

    start = time.perf_counter()
    config.set_seed(seed)  # Python, NumPy, TensorFlow; deterministic kernels
    tokenizer = CharTokenizer()
    X_train, Y_train, X_val, Y_val = corpus_windows(tokenizer)
    model = models.build_gpt(dataclasses.replace(CONFIG, dtype="float32"), profile=_OneDevice())
    warmup = min(PRETRAIN["warmup_steps"], num_steps // 2)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(num_steps - warmup, 1),
                                                      warmup_target=PRETRAIN["lr"], warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    order = np.random.default_rng(seed).integers(0, len(X_train), size=(num_steps, PRETRAIN["batch_size"]))
    batches = tf.data.Dataset.from_tensor_slices((X_train[order], Y_train[order]))  # (num_steps, batch, seq_len)
    model.fit(batches, epochs=1, shuffle=False, verbose=2 if verbose else 0)
    val_loss = float(model.evaluate(X_val, Y_val, batch_size=256, verbose=0))
    arrays = {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}
    arrays["vocabulary"] = np.array([ord(c) for c in VOCABULARY], dtype=np.uint32)
    path = Path(path)
    _write_npz(path, arrays)
    result = {"path": str(path), "sha256": sha256(path), "val_loss": val_loss, "seconds": time.perf_counter() - start}
    if verbose:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {result['seconds']:.0f} s: validation loss "
              f"{val_loss:.3f} nats per character\nSHA-256 {result['sha256']}"
              + ("" if result["sha256"] == SHA256 else "  (differs from labs_lib.pretrained.SHA256)"))
    return result


class _OneDevice:
    """A stand-in device profile whose scope is TensorFlow's default strategy: one device, whatever the course's
    profile says, so that the rebuilt checkpoint does not depend on ``LABS_REPLICAS``."""

    def scope(self):
        import tensorflow as tf

        return tf.distribute.get_strategy().scope()


def add_parser(commands) -> None:
    """``labs pretrain``: rebuild the course GPT's checkpoint (see :func:`pretrain`)."""
    p = commands.add_parser("pretrain", help="rebuild the course GPT's pretrained checkpoint, deterministically")
    p.add_argument("-o", "--output", default=str(CHECKPOINT), help=f"where to write it (default: {CHECKPOINT})")
    p.add_argument("--steps", type=int, default=PRETRAIN["num_steps"], help="training steps")
    p.add_argument("--seed", type=int, default=PRETRAIN["seed"], help="seed of the weights and the batches")
    p.set_defaults(func=pretrain_command)


def pretrain_command(args) -> int:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = pretrain(args.output, num_steps=args.steps, seed=args.seed)
    return 0 if result["val_loss"] < 3.0 else 1
