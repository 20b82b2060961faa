"""labs_lib.gpt2: KerasHub's GPT-2 (random weights, no download) mapped into the course GPT gives its outputs."""

import numpy as np
import pytest

from labs_lib import gpt2, models

pytest.importorskip("keras_hub", reason=f"KerasHub is optional: {gpt2.INSTALL}")


def test_the_weight_map_covers_every_weight_of_both_models():
    backbone = gpt2.random_backbone(num_layers=3)
    names = gpt2.weight_map(3)
    assert set(names) == {v.path for v in backbone.weights}
    course = models.build_gpt(gpt2.config_of(backbone))
    assert set(names.values()) == {v.path for v in course.weights}
    assert course.count_params() == backbone.count_params()  # tied head: no extra matrix on either side


def test_random_gpt2_backbone_and_the_course_gpt_give_the_same_hidden_states_and_logits():
    backbone = gpt2.random_backbone(vocab_size=50, seq_len=16, d_model=16, num_heads=2, num_layers=2, ff_dim=64)
    course = gpt2.from_keras_hub(backbone, dtype="float32")
    tokens = np.random.default_rng(1).integers(0, 50, size=(2, 16))
    hidden, logits = gpt2.hidden_states_and_logits(backbone, tokens)
    np.testing.assert_allclose(gpt2.course_hidden_states(course, tokens), hidden, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(course(tokens)), logits, rtol=1e-5, atol=1e-5)
    assert np.abs(logits).max() > 0.1  # the comparison is not of near-zero outputs


def test_a_backbone_of_another_layout_is_refused_with_a_reason():
    backbone = gpt2.random_backbone(num_layers=1)
    with pytest.raises(ValueError, match="GPT-2's layout"):
        gpt2.from_keras_hub(_Renamed(backbone))


class _Renamed:
    """A backbone whose weights are named differently (as a BERT or a future KerasHub layout would be)."""

    def __init__(self, backbone):
        self._backbone = backbone
        self.weights = [_Variable("other/" + v.path, v) for v in backbone.weights]

    def __getattr__(self, name):
        return getattr(self._backbone, name)


class _Variable:
    def __init__(self, path, variable):
        self.path, self.shape, self._variable = path, variable.shape, variable
