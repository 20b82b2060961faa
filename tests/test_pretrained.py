"""The course GPT's shipped checkpoint (labs_lib.pretrained) and lesson 11's LoRA against Keras' enable_lora."""

import hashlib
import json
import shutil

import keras
import numpy as np
import pytest

from labs_lib import models, pretrained

from conftest import ROOT

LESSON = ROOT / "notebooks" / "11_adapting_pretrained_models.ipynb"


def test_the_shipped_checkpoint_has_the_recorded_sha256_and_is_small():
    assert pretrained.CHECKPOINT.exists(), "labs_lib/checkpoints/course_gpt.npz is missing"
    digest = hashlib.sha256(pretrained.CHECKPOINT.read_bytes()).hexdigest()
    assert digest == pretrained.SHA256 == pretrained.sha256(pretrained.CHECKPOINT)
    assert pretrained.CHECKPOINT.stat().st_size < 2_000_000


def test_the_checkpoint_is_package_data():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"labs_lib" = ["checkpoints/*.npz"]' in text, "pip and Colab installs must get the checkpoint"


def test_it_loads_into_build_gpt_with_the_recorded_config():
    model, tokenizer = pretrained.load_course_gpt(dtype="float32")
    reference = models.build_gpt(pretrained.CONFIG)
    assert [(v.path, tuple(v.shape)) for v in model.weights] == [(v.path, tuple(v.shape)) for v in reference.weights]
    arrays = pretrained.load_weights()
    assert "".join(chr(c) for c in arrays.pop("vocabulary")) == pretrained.VOCABULARY
    for variable in model.weights:  # every weight is the file's, exactly
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), arrays[variable.path])
    assert tokenizer.vocab_size == pretrained.CONFIG.vocab_size == 101
    assert tokenizer.decode(tokenizer.encode("def f(x):\n\treturn x")) == "def f(x):\n\treturn x"
    assert tokenizer.decode(tokenizer.encode("“quoted”")) == pretrained.UNKNOWN + "quoted" + pretrained.UNKNOWN


def _mean_loss(model, X, Y):
    logits = keras.ops.convert_to_numpy(model(X, training=False)).astype(np.float64)
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_probs, Y[..., None], axis=-1).mean()


def test_its_validation_loss_is_far_below_the_untrained_model_s():
    model, tokenizer = pretrained.load_course_gpt(dtype="float32")
    _, _, X_val, Y_val = pretrained.corpus_windows(tokenizer)
    X_val, Y_val = X_val[::8][:64], Y_val[::8][:64]  # 64 windows spread over the validation text
    keras.utils.set_random_seed(0)
    untrained = models.build_gpt(pretrained.CONFIG)
    trained_loss, untrained_loss = _mean_loss(model, X_val, Y_val), _mean_loss(untrained, X_val, Y_val)
    assert untrained_loss > 4.0  # about log 101 = 4.6: uniform guessing
    assert trained_loss < 2.0  # below the bigram baseline (about 2.3)
    assert trained_loss < untrained_loss - 2.5


def test_a_damaged_checkpoint_is_refused_with_what_to_do(tmp_path):
    damaged = tmp_path / "course_gpt.npz"
    shutil.copy(pretrained.CHECKPOINT, damaged)
    raw = bytearray(damaged.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one byte of a weight
    damaged.write_bytes(bytes(raw))
    with pytest.raises(pretrained.ChecksumError, match="Restore it") as error:
        pretrained.load_course_gpt(damaged)
    assert pretrained.SHA256 in str(error.value) and "labs pretrain" in str(error.value)
    with pytest.raises(FileNotFoundError, match="labs pretrain"):
        pretrained.load_course_gpt(tmp_path / "missing.npz")


def test_the_writer_gives_the_same_bytes_for_the_same_arrays(tmp_path):
    arrays = {"b/kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "a/bias": np.ones(3, np.float32)}
    pretrained._write_npz(tmp_path / "one.npz", arrays)
    pretrained._write_npz(tmp_path / "two.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz") as loaded:
        assert sorted(loaded.files) == ["a/bias", "b/kernel"]
        np.testing.assert_array_equal(loaded["b/kernel"], arrays["b/kernel"])


@pytest.mark.slow
def test_pretrain_is_deterministic(tmp_path):
    first = pretrained.pretrain(tmp_path / "one.npz", num_steps=4, verbose=False)
    second = pretrained.pretrain(tmp_path / "two.npz", num_steps=4, verbose=False)
    assert first["sha256"] == second["sha256"]
    model, _ = pretrained.load_course_gpt(tmp_path / "one.npz", expected_sha256=first["sha256"])
    assert model.count_params() == pretrained.load_course_gpt()[0].count_params()


def _lesson_cell(marker: str) -> str:
    cells = json.loads(LESSON.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    (source,) = [s for s in sources if marker in s]
    return source


def test_the_lesson_s_lora_equals_keras_enable_lora():
    """Lesson 11's LoRADense (its cell, as written) against Keras' own LoRA with the same A and B, and merged."""
    namespace = {"keras": keras, "np": np}
    exec(compile(_lesson_cell("class LoRADense("), str(LESSON), "exec"), namespace)  # the lesson's own class
    rng = np.random.default_rng(0)
    rank, alpha = 3, 6.0
    base = keras.layers.Dense(7, activation="gelu", dtype="float32")
    base.build((None, 5))
    base.set_weights([rng.normal(size=(5, 7)).astype("float32"), rng.normal(size=7).astype("float32")])
    theirs = keras.layers.Dense(7, activation="gelu", dtype="float32")
    theirs.build((None, 5))
    theirs.set_weights(base.get_weights())
    theirs.enable_lora(rank, lora_alpha=alpha)
    ours = namespace["LoRADense"](base, rank, alpha, dtype="float32")
    ours.build((None, 5))
    x = rng.normal(size=(4, 5)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours.lora_b), 0.0)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-6, atol=1e-6)  # at B = 0 both are the base layer
    A, B = rng.normal(size=(5, rank)).astype("float32"), rng.normal(size=(rank, 7)).astype("float32")
    for variable, value in [(ours.lora_a, A), (ours.lora_b, B), (theirs.lora_kernel_a, A), (theirs.lora_kernel_b, B)]:
        variable.assign(value)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    assert sorted(tuple(v.shape) for v in ours.trainable_weights) == sorted(
        tuple(v.shape) for v in theirs.trainable_weights)
    np.testing.assert_allclose(ours.merged_kernel(), keras.ops.convert_to_numpy(theirs.kernel), rtol=1e-6, atol=1e-6)
