"""GPT-2 weights from KerasHub into the course GPT (:func:`labs_lib.models.build_gpt`), lesson 10.

KerasHub's ``GPT2Backbone`` and the course GPT are the same architecture: token embedding plus learned positions,
pre-norm causal blocks (LayerNorm epsilon 1e-5, GELU in its tanh approximation), a final LayerNorm, and a head
tied to the token embedding. KerasHub already splits GPT-2's fused query-key-value matrix (``c_attn``) into
separate query, key and value projections of shape (d_model, heads, head_dim), the shapes of Keras'
``MultiHeadAttention``, so every weight maps one to one.

- :func:`from_keras_hub` copies a backbone's weights (random or pretrained) into a new course GPT;
- :func:`load_gpt2` does it for a KerasHub preset such as ``"gpt2_base_en"``: online only (it downloads about
  500 MB once), with ``pip install "keras-hub>=0.32"`` (the ``hub`` extra).

KerasHub is optional: importing this module does not import it; the functions say how to install it.
"""

from __future__ import annotations

import dataclasses

import keras

from labs_lib import models

INSTALL = 'pip install "keras-hub>=0.32"  (or: pip install -e ".[hub]")'


def _require_keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise ImportError(f"KerasHub is not installed: {INSTALL}") from error
    return keras_hub


def keras_hub_available() -> bool:
    """Whether ``import keras_hub`` works here."""
    try:
        _require_keras_hub()
    except ImportError:
        return False
    return True


def config_of(backbone) -> models.GPTConfig:
    """The course GPT's configuration for a ``keras_hub.models.GPT2Backbone`` (no dropout: inference)."""
    return models.GPTConfig(vocab_size=backbone.vocabulary_size, seq_len=backbone.max_sequence_length,
                            d_model=backbone.hidden_dim, num_heads=backbone.num_heads,
                            num_layers=backbone.num_layers, ff_dim=backbone.intermediate_dim, dropout=0.0,
                            epsilon=1e-5)


def weight_map(num_layers: int) -> dict[str, str]:
    """KerasHub GPT2Backbone variable path -> course GPT variable path, for every weight."""
    names = {"token_embedding/embeddings": "embedding/token_embedding/embeddings",
             "position_embedding/embeddings": "embedding/position_embedding/embeddings",
             "layer_norm/gamma": "final_norm/gamma", "layer_norm/beta": "final_norm/beta"}
    parts = {"self_attention/query": "attention/query", "self_attention/key": "attention/key",
             "self_attention/value": "attention/value", "self_attention/attention_output": "attention/attention_output",
             "self_attention_layer_norm": "norm1", "feedforward_layer_norm": "norm2",
             "feedforward_intermediate_dense": "feed_forward/expand", "feedforward_output_dense": "feed_forward/project"}
    for i in range(num_layers):
        for hub, ours in parts.items():
            for leaf in (("gamma", "beta") if "norm" in hub else ("kernel", "bias")):
                names[f"transformer_layer_{i}/{hub}/{leaf}"] = f"block{i + 1}/{ours}/{leaf}"
    return names


def from_keras_hub(backbone, dtype: str | None = None) -> keras.Model:
    """A course GPT (``models.build_gpt``) holding a copy of ``backbone``'s weights; its logits are GPT-2's.

    ``backbone`` is a ``keras_hub.models.GPT2Backbone``; the course GPT's output is ``hidden @ E.T``, the logits
    KerasHub's ``GPT2CausalLM`` computes from the backbone's hidden states with the same tied embedding ``E``.
    """
    model = models.build_gpt(dataclasses.replace(config_of(backbone), dtype=dtype))
    ours = {variable.path: variable for variable in model.weights}
    names = weight_map(backbone.num_layers)
    theirs = {variable.path: variable for variable in backbone.weights}
    if set(theirs) != set(names) or set(names.values()) != set(ours):
        raise ValueError("the backbone's weights do not match GPT-2's layout: expected "
                         f"{sorted(set(names) - set(theirs))[:3]}..., found {sorted(set(theirs) - set(names))[:3]}...")
    for hub_path, our_path in names.items():
        value = keras.ops.convert_to_numpy(theirs[hub_path])
        if tuple(ours[our_path].shape) != value.shape:
            raise ValueError(f"{hub_path} has shape {value.shape}, {our_path} {tuple(ours[our_path].shape)}")
        ours[our_path].assign(value)
    return model


def load_gpt2(preset: str = "gpt2_base_en", dtype: str | None = None) -> keras.Model:
    """GPT-2 from a KerasHub preset (``gpt2_base_en``: 124 M parameters) as a course GPT. Online only: the
    preset is downloaded (once, into KerasHub's cache) from Kaggle; tokenize with
    ``keras_hub.models.GPT2Tokenizer.from_preset(preset)``."""
    keras_hub = _require_keras_hub()
    backbone = keras_hub.models.GPT2Backbone.from_preset(preset)
    return from_keras_hub(backbone, dtype=dtype)


def random_backbone(vocab_size: int = 50, seq_len: int = 16, d_model: int = 16, num_heads: int = 2,
                    num_layers: int = 2, ff_dim: int = 64, seed: int = 0):
    """A small randomly initialised ``GPT2Backbone`` (no download), with its LayerNorm and bias weights
    randomised too, so that a mapping check sees every weight."""
    keras_hub = _require_keras_hub()
    import numpy as np

    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=vocab_size, num_layers=num_layers, num_heads=num_heads,
                                             hidden_dim=d_model, intermediate_dim=ff_dim, dropout=0.0,
                                             max_sequence_length=seq_len, dtype="float32")
    rng = np.random.default_rng(seed)
    for variable in backbone.weights:
        start = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(start + rng.normal(0.0, 0.1, size=variable.shape).astype("float32"))
    return backbone


def hidden_states_and_logits(backbone, token_ids):
    """KerasHub's own outputs: the backbone's hidden states (batch, T, d_model) and the tied-head logits
    (batch, T, V) its ``GPT2CausalLM`` computes, ``token_embedding(hidden, reverse=True)``."""
    import numpy as np

    token_ids = np.asarray(token_ids, dtype="int32")
    hidden = backbone({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    logits = backbone.token_embedding(hidden, reverse=True)
    return keras.ops.convert_to_numpy(hidden), keras.ops.convert_to_numpy(logits)


def course_hidden_states(model: keras.Model, token_ids):
    """The course GPT's hidden states (batch, T, d_model): the final LayerNorm's output, before the tied head."""
    import numpy as np

    hidden = keras.Model(model.inputs[0], model.get_layer("final_norm").output)
    return keras.ops.convert_to_numpy(hidden(np.asarray(token_ids, dtype="int32")))
