"""Model builders: MLP, CNN (LeNet-style and a small residual net), RNN, Transformer, a small GPT.

Each builder takes a configuration dataclass, builds inside the device profile's distribution
strategy (see :mod:`labs_lib.device`), keeps the output layer in float32 under mixed precision and
gives every layer a readable name. Builders return uncompiled models; compile them with
:func:`labs_lib.training.compile` (which also works under a multi-device strategy).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from labs_lib import device

CELLS = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


def _scope(profile: device.DeviceProfile | None):
    return (profile or device.current_profile()).scope()


def _output(units: int, activation: str | None, name: str = "output") -> layers.Dense:
    """The last layer, always float32 so that softmax and the loss stay accurate under mixed precision."""
    return layers.Dense(units, activation=activation, dtype="float32", name=name)


def _check_positive(**values: float) -> None:
    for key, value in values.items():
        if value is None or value <= 0:
            raise ValueError(f"{key} must be > 0, got {value!r}")


def _check_rate(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


# --------------------------------------------------------------------------- MLP


@dataclass
class MLPConfig:
    input_shape: tuple[int, ...] = (784,)  # an image shape such as (28, 28) adds an explicit Flatten layer
    hidden_units: tuple[int, ...] = (128,)  # units of each hidden layer, in order
    activation: str = "relu"  # activation of the hidden layers
    num_classes: int = 10  # output units
    output_activation: str | None = "softmax"  # None gives logits
    dropout: float = 0.0  # dropout rate after each hidden layer
    l2: float = 0.0  # L2 penalty on hidden-layer weights
    batch_norm: bool = False  # batch normalization before each activation
    kernel_initializer: str = "glorot_uniform"  # how weights start


def build_mlp(config: MLPConfig | None = None, profile: device.DeviceProfile | None = None) -> keras.Model:
    """A multi-layer perceptron (dense layers), for flat vectors or images."""
    config = config or MLPConfig()
    _check_positive(num_classes=config.num_classes)
    _check_rate("dropout", config.dropout)
    if config.l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {config.l2}")
    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    with _scope(profile):
        inputs = keras.Input(shape=config.input_shape, name="inputs")
        x = layers.Flatten(name="flatten")(inputs) if len(config.input_shape) > 1 else inputs
        for i, units in enumerate(config.hidden_units, start=1):
            _check_positive(hidden_units=units)
            x = layers.Dense(units, kernel_initializer=config.kernel_initializer,
                             kernel_regularizer=regularizer, name=f"hidden{i}")(x)
            if config.batch_norm:
                x = layers.BatchNormalization(name=f"batch_norm{i}")(x)
            x = layers.Activation(config.activation, name=f"{config.activation}{i}")(x)
            if config.dropout:
                x = layers.Dropout(config.dropout, name=f"dropout{i}")(x)
        outputs = _output(config.num_classes, config.output_activation)(x)
        return keras.Model(inputs, outputs, name="mlp")


# --------------------------------------------------------------------------- CNN


@dataclass
class CNNConfig:
    input_shape: tuple[int, ...] = (28, 28, 1)  # (height, width) gets a channel axis added
    num_classes: int = 10  # output units
    architecture: str = "lenet"  # 'lenet' (conv-pool stacks) or 'resnet' (residual blocks)
    filters: tuple[int, ...] = (32, 64)  # filters per conv stage
    kernel_size: int = 3  # height and width of each filter
    dense_units: int = 128  # the dense layer before the output (lenet)
    dropout: float = 0.25  # dropout before the dense layers
    output_activation: str | None = "softmax"  # None gives logits
    batch_norm: bool = False  # lenet: batch normalization between each convolution and its ReLU
    zero_init_residual: bool = False  # resnet: each block's last batch-norm gamma starts at 0 (Goyal et al. 2017)


def residual_block(x, filters: int, stride: int = 1, name: str = "block", zero_init: bool = False):
    """Two 3x3 convolutions whose output is added to the input (the shortcut), as in ResNet.

    When the shape changes (more filters or a stride), the shortcut is a 1x1 convolution. With
    ``zero_init=True`` the last batch normalization's gamma starts at 0, so the residual branch F outputs 0
    at initialization and a block with an identity shortcut computes ReLU(x), which is x for the
    non-negative input a previous block's ReLU gives (the "zero-gamma" trick of Goyal et al. 2017).
    """
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(gamma_initializer="zeros" if zero_init else "ones", name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_shortcut")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_cnn(config: CNNConfig | None = None, profile: device.DeviceProfile | None = None) -> keras.Model:
    """A LeNet-style convnet or a small residual net for images."""
    config = config or CNNConfig()
    if config.architecture not in ("lenet", "resnet"):
        raise ValueError(f"architecture must be 'lenet' or 'resnet', got {config.architecture!r}")
    _check_positive(num_classes=config.num_classes, kernel_size=config.kernel_size)
    _check_rate("dropout", config.dropout)
    with _scope(profile):
        inputs = keras.Input(shape=config.input_shape, name="images")
        x = inputs
        if len(config.input_shape) == 2:
            x = layers.Reshape((*config.input_shape, 1), name="add_channel")(x)
        if config.architecture == "lenet":
            for i, f in enumerate(config.filters, start=1):
                if config.batch_norm:  # conv (its bias is BN's beta) -> BN -> ReLU
                    x = layers.Conv2D(f, config.kernel_size, padding="same", use_bias=False, name=f"conv{i}")(x)
                    x = layers.BatchNormalization(name=f"bn{i}")(x)
                    x = layers.Activation("relu", name=f"relu{i}")(x)
                else:
                    x = layers.Conv2D(f, config.kernel_size, padding="same", activation="relu", name=f"conv{i}")(x)
                x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
            x = layers.Flatten(name="flatten")(x)
            if config.dropout:
                x = layers.Dropout(config.dropout, name="dropout")(x)
            x = layers.Dense(config.dense_units, activation="relu", name="dense")(x)
        else:
            x = layers.Conv2D(config.filters[0], 3, padding="same", use_bias=False, name="stem_conv")(x)
            x = layers.BatchNormalization(name="stem_bn")(x)
            x = layers.Activation("relu", name="stem_relu")(x)
            for i, f in enumerate(config.filters, start=1):
                x = residual_block(x, f, stride=1 if i == 1 else 2, name=f"block{i}", zero_init=config.zero_init_residual)
            x = layers.GlobalAveragePooling2D(name="global_pool")(x)
            if config.dropout:
                x = layers.Dropout(config.dropout, name="dropout")(x)
        outputs = _output(config.num_classes, config.output_activation)(x)
        return keras.Model(inputs, outputs, name=config.architecture)


# --------------------------------------------------------------------------- RNN


@dataclass
class RNNConfig:
    cell: str = "lstm"  # 'simple', 'lstm' or 'gru'
    vocab_size: int | None = None  # when set, inputs are token ids fed through an Embedding
    input_dim: int = 1  # features per time step (when vocab_size is None)
    seq_len: int | None = None  # time steps; None accepts any length
    embed_dim: int = 32  # size of each token vector (with vocab_size)
    units: int = 64  # size of the hidden state
    num_layers: int = 1  # stacked recurrent layers
    num_classes: int = 10  # output units (vocab_size for next-token prediction)
    return_sequences: bool = False  # True: one prediction per time step
    dropout: float = 0.0  # dropout on the recurrent layers' inputs
    output_activation: str | None = "softmax"  # None gives logits


def build_rnn(config: RNNConfig | None = None, profile: device.DeviceProfile | None = None) -> keras.Model:
    """A recurrent network (SimpleRNN, LSTM or GRU) for sequence classification or per-step prediction."""
    config = config or RNNConfig()
    if config.cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {config.cell!r}")
    _check_positive(units=config.units, num_layers=config.num_layers, num_classes=config.num_classes)
    _check_rate("dropout", config.dropout)
    with _scope(profile):
        if config.vocab_size:
            inputs = keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens")
            x = layers.Embedding(config.vocab_size, config.embed_dim, name="embedding")(inputs)
        else:
            inputs = keras.Input(shape=(config.seq_len, config.input_dim), name="sequence")
            x = inputs
        for i in range(1, config.num_layers + 1):
            last = i == config.num_layers
            x = CELLS[config.cell](
                config.units,
                return_sequences=config.return_sequences or not last,
                dropout=config.dropout,
                name=f"{config.cell}{i}",
            )(x)
        outputs = _output(config.num_classes, config.output_activation)(x)
        return keras.Model(inputs, outputs, name=f"{config.cell}_rnn")


# --------------------------------------------------------------------------- Transformer pieces


def positional_encoding(seq_len: int, d_model: int) -> np.ndarray:
    """Sinusoidal positional encoding, shape ``(seq_len, d_model)``.

    PE[pos, 2i] = sin(pos / 10000^(2i / d_model)),  PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model)):
    sine on even dimensions, cosine on odd ones, the angle growing over positions.
    """
    _check_positive(seq_len=seq_len, d_model=d_model)
    pos = np.arange(seq_len)[:, None]  # (seq_len, 1)
    two_i = np.arange(0, d_model, 2)[None, :]  # (1, ceil(d_model / 2)): the even dimensions 2i
    angles = pos / np.power(10000.0, two_i / d_model)  # (seq_len, ceil(d_model / 2))
    pe = np.zeros((seq_len, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe.astype(np.float32)


@keras.saving.register_keras_serializable(package="labs_lib")
class PositionalEmbedding(layers.Layer):
    """Token embedding plus position information (sinusoidal, fixed; or learned)."""

    def __init__(self, vocab_size: int, seq_len: int, d_model: int, positions: str = "sinusoidal", **kwargs):
        super().__init__(**kwargs)
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
        self.vocab_size, self.seq_len, self.d_model, self.positions = vocab_size, seq_len, d_model, positions
        policy = self.dtype_policy  # sublayers follow this layer's dtype (e.g. dtype="float32" under mixed precision)
        self.token_embedding = layers.Embedding(vocab_size, d_model, dtype=policy, name="token_embedding")
        if positions == "learned":
            self.position_embedding = layers.Embedding(seq_len, d_model, dtype=policy, name="position_embedding")
        else:
            self.encoding = positional_encoding(seq_len, d_model)

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.positions == "learned":
            self.position_embedding.build((self.seq_len,))
        super().build(input_shape)

    def call(self, tokens):
        length = keras.ops.shape(tokens)[-1]
        x = self.token_embedding(tokens) * math.sqrt(self.d_model)  # (batch, seq_len, d_model)
        if self.positions == "learned":
            pos = self.position_embedding(keras.ops.arange(length))
        else:
            pos = keras.ops.convert_to_tensor(self.encoding)[:length]
        return x + keras.ops.cast(pos, x.dtype)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "seq_len": self.seq_len,
                "d_model": self.d_model, "positions": self.positions}


@keras.saving.register_keras_serializable(package="labs_lib")
def gelu_tanh(x):
    """GELU in GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    return keras.activations.gelu(x, approximate=True)


ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": gelu_tanh}  # feed-forward activations of TransformerBlock


@keras.saving.register_keras_serializable(package="labs_lib")
class TransformerBlock(layers.Layer):
    """Multi-head self-attention and a feed-forward network, each with a residual and layer normalization.

    ``norm_first=False`` is the original (post-norm) encoder block; ``norm_first=True`` the pre-norm
    block GPT uses. ``causal=True`` lets each position attend only to itself and earlier positions.
    ``activation`` is the feed-forward network's: ``"gelu"`` (exact) or ``"gelu_tanh"`` (GPT-2's tanh approximation);
    ``epsilon`` is the layer normalizations' (GPT-2 uses 1e-5).
    """

    def __init__(self, d_model: int, num_heads: int, ff_dim: int, dropout: float = 0.1,
                 causal: bool = False, norm_first: bool = False, activation: str = "gelu",
                 epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        _check_rate("dropout", dropout)
        self.d_model, self.num_heads, self.ff_dim = d_model, num_heads, ff_dim
        self.dropout_rate, self.causal, self.norm_first = dropout, causal, norm_first
        self.activation, self.epsilon = activation, epsilon
        policy = self.dtype_policy  # sublayers follow this layer's dtype (e.g. dtype="float32" under mixed precision)
        self.attention = layers.MultiHeadAttention(num_heads, d_model // num_heads, dropout=dropout, dtype=policy,
                                                   name="attention")
        self.feed_forward = keras.Sequential(
            [layers.Dense(ff_dim, activation=ACTIVATIONS[activation], dtype=policy, name="expand"),
             layers.Dense(d_model, dtype=policy, name="project")],
            name="feed_forward",
        )
        self.norm1 = layers.LayerNormalization(epsilon=epsilon, dtype=policy, name="norm1")
        self.norm2 = layers.LayerNormalization(epsilon=epsilon, dtype=policy, name="norm2")
        self.dropout1 = layers.Dropout(dropout, dtype=policy)
        self.dropout2 = layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape):
        # Build the sublayers now, so that weights exist (and can be copied) before the first call.
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.feed_forward.build(input_shape)
        super().build(input_shape)

    def _attend(self, x, attention_mask=None, training=None):
        return self.attention(x, x, attention_mask=attention_mask, use_causal_mask=self.causal, training=training)

    def call(self, x, attention_mask=None, training=None):
        if self.norm_first:
            x = x + self.dropout1(self._attend(self.norm1(x), attention_mask, training), training=training)
            return x + self.dropout2(self.feed_forward(self.norm2(x)), training=training)
        x = self.norm1(x + self.dropout1(self._attend(x, attention_mask, training), training=training))
        return self.norm2(x + self.dropout2(self.feed_forward(x), training=training))

    def attention_scores(self, x, attention_mask=None):
        """Attention weights, shape ``(batch, num_heads, seq_len, seq_len)``, for drawing attention maps."""
        query = self.norm1(x) if self.norm_first else x
        _, scores = self.attention(query, query, attention_mask=attention_mask,
                                   use_causal_mask=self.causal, return_attention_scores=True)
        return scores

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout_rate, "causal": self.causal,
                "norm_first": self.norm_first, "activation": self.activation, "epsilon": self.epsilon}


@dataclass
class TransformerConfig:
    vocab_size: int = 12  # number of distinct input tokens
    seq_len: int = 10  # tokens per sequence
    d_model: int = 64  # size of each token vector
    num_heads: int = 4  # attention heads per block
    ff_dim: int = 128  # hidden units of each feed-forward network
    num_layers: int = 2  # Transformer blocks
    dropout: float = 0.1  # dropout in attention and after each sublayer
    num_classes: int | None = None  # output classes; None means vocab_size
    per_token: bool = True  # True: a prediction per position; False: one per sequence (mean-pooled)


def build_transformer(config: TransformerConfig | None = None, profile: device.DeviceProfile | None = None) -> keras.Model:
    """A Transformer encoder: embedding with sinusoidal positions, blocks, and logits per token or per sequence."""
    config = config or TransformerConfig()
    _check_positive(vocab_size=config.vocab_size, seq_len=config.seq_len, num_layers=config.num_layers)
    with _scope(profile):
        tokens = keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens")
        x = PositionalEmbedding(config.vocab_size, config.seq_len, config.d_model, name="embedding")(tokens)
        for i in range(1, config.num_layers + 1):
            x = TransformerBlock(config.d_model, config.num_heads, config.ff_dim, config.dropout, name=f"block{i}")(x)
        if not config.per_token:
            x = layers.GlobalAveragePooling1D(name="pool")(x)
        logits = _output(config.num_classes or config.vocab_size, None, name="logits")(x)
        return keras.Model(tokens, logits, name="transformer")


# --------------------------------------------------------------------------- GPT


@dataclass
class GPTConfig:
    vocab_size: int = 96  # number of distinct tokens
    seq_len: int = 64  # context length: tokens the model sees at once (one learned vector per position)
    d_model: int = 64  # size of each token vector
    num_heads: int = 4  # attention heads per block
    num_layers: int = 2  # Transformer blocks
    ff_dim: int = 256  # hidden units of each feed-forward network (4 x d_model, as in GPT)
    dropout: float = 0.1  # dropout in attention and after each sublayer
    epsilon: float = 1e-5  # the layer normalizations' epsilon (GPT-2's)
    dtype: str | None = None  # None follows the global policy; "float32" builds a float32 model under mixed precision


@keras.saving.register_keras_serializable(package="labs_lib")
class GPTEmbedding(layers.Layer):
    """GPT-2's input and output layer: token embedding plus a learned vector per position, and the tied head.

    ``embedding(tokens)`` gives ``E[token] + P[position]`` (positions from ``start``, 0 by default; no sqrt(d_model)
    factor, as in GPT-2); ``embedding(h, reverse=True)`` gives the logits ``h @ E.T`` in float32: the output head
    shares (is *tied* to) the token embedding ``E``, as in GPT-2, so the model has no separate head matrix.
    """

    def __init__(self, vocab_size: int, seq_len: int, d_model: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.seq_len, self.d_model = vocab_size, seq_len, d_model
        policy = self.dtype_policy  # sublayers follow this layer's dtype (e.g. dtype="float32" under mixed precision)
        self.token_embedding = layers.Embedding(vocab_size, d_model, dtype=policy, name="token_embedding")
        self.position_embedding = layers.Embedding(seq_len, d_model, dtype=policy, name="position_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.seq_len,))
        super().build(input_shape)

    def call(self, inputs, reverse=False, start=0):
        if reverse:  # (batch, seq_len, d_model) -> (batch, seq_len, vocab_size) logits, always float32
            table = keras.ops.cast(self.token_embedding.embeddings, "float32")  # (vocab_size, d_model)
            return keras.ops.matmul(keras.ops.cast(inputs, "float32"), keras.ops.transpose(table))
        length = inputs.shape[-1]  # None when the length is only known at run time (then generate crops)
        if length is not None and isinstance(start, int) and start + length > self.seq_len:
            # On a CPU the position lookup would raise deep in TensorFlow; on a GPU it silently gives zeros.
            raise ValueError(f"{start + length} positions but the model has {self.seq_len} position embeddings "
                             f"(seq_len): crop the input to its last {self.seq_len - start} tokens, as generate does")
        positions = start + keras.ops.arange(keras.ops.shape(inputs)[-1], dtype="int32")  # (seq_len,)
        return self.token_embedding(inputs) + self.position_embedding(positions)  # (batch, seq_len, d_model)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "seq_len": self.seq_len,
                "d_model": self.d_model}


def build_gpt(config: GPTConfig | None = None, profile: device.DeviceProfile | None = None) -> keras.Model:
    """A small decoder-only language model in GPT-2's architecture.

    Token embedding plus learned positions (:class:`GPTEmbedding`), ``num_layers`` pre-norm causal
    :class:`TransformerBlock` s (LayerNorm -> attention -> residual; LayerNorm -> GELU (tanh) MLP -> residual),
    a final LayerNorm, and logits from the head tied to the token embedding. Layers: ``embedding``,
    ``block1`` ... ``blockN``, ``final_norm``, ``logits`` (an identity in float32: the output is logits).
    """
    config = config or GPTConfig()
    _check_positive(vocab_size=config.vocab_size, seq_len=config.seq_len, num_layers=config.num_layers)
    with _scope(profile):
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        embedding = GPTEmbedding(config.vocab_size, config.seq_len, config.d_model, dtype=config.dtype,
                                 name="embedding")
        x = embedding(tokens)  # (batch, seq_len, d_model)
        for i in range(1, config.num_layers + 1):
            x = TransformerBlock(config.d_model, config.num_heads, config.ff_dim, config.dropout, causal=True,
                                 norm_first=True, activation="gelu_tanh", epsilon=config.epsilon,
                                 dtype=config.dtype, name=f"block{i}")(x)
        x = layers.LayerNormalization(epsilon=config.epsilon, dtype=config.dtype, name="final_norm")(x)
        logits = embedding(x, reverse=True)  # (batch, seq_len, vocab_size), float32: the tied head
        logits = layers.Activation("linear", dtype="float32", name="logits")(logits)  # identity: marks the output
        return keras.Model(tokens, logits, name="gpt")  # as logits (training.compile then uses from_logits=True)


def sample_next(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                rng: np.random.Generator | None = None) -> int:
    """Draw one token id from logits: divide by the temperature, keep the top k, softmax, sample."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (use a small value such as 0.01 for greedy)")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    rng = rng or np.random.default_rng()
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None and top_k < len(scaled):
        cutoff = np.sort(scaled)[-top_k]
        scaled = np.where(scaled >= cutoff, scaled, -np.inf)
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    return int(rng.choice(len(probs), p=probs))


def generate(model: keras.Model, prompt: list[int], num_tokens: int, seq_len: int,
             temperature: float = 1.0, top_k: int | None = None, seed: int = 0) -> list[int]:
    """Extend ``prompt`` by ``num_tokens`` sampled tokens, feeding at most ``seq_len`` tokens of context."""
    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    rng = np.random.default_rng(seed)
    ids = list(prompt)
    for _ in range(num_tokens):
        context = np.array([ids[-seq_len:]], dtype=np.int32)  # (1, <= seq_len)
        logits = model(context, training=False)[0, -1]  # (vocab_size,)
        ids.append(sample_next(keras.ops.convert_to_numpy(logits), temperature, top_k, rng))
    return ids


class Generator:
    """Fast sampling from a :func:`build_gpt` model, with or without a KV cache; the same tokens as :func:`generate`.

    ``kv_cache=False`` runs the whole sequence through the model for every new token (one traced function for
    every length): the work per token grows with the position, attention's quadratically. ``kv_cache=True``
    feeds one token at a time and keeps each block's keys and values in a cache of ``seq_len`` slots (allocated
    once, so the traced step has fixed shapes): the new token's query attends to the filled slots, so a token
    costs one position. Learned positions stop at ``seq_len``, so prompt plus new tokens must fit in the context,
    ``len(prompt) + num_tokens - 1 <= seq_len``; then both give exactly what :func:`generate` gives.
    ``jit_compile=True`` compiles the cached step with XLA (fewer, fused operations: less overhead per token).
    """

    def __init__(self, model: keras.Model, kv_cache: bool = True, jit_compile: bool = False):
        self.model, self.kv_cache = model, kv_cache
        self.embedding = model.get_layer("embedding")
        self.blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
        self.final_norm = model.get_layer("final_norm")
        self.seq_len = self.embedding.seq_len
        self.num_heads = self.blocks[0].num_heads
        self.head_dim = self.blocks[0].d_model // self.num_heads
        self.cache_dtype = self.blocks[0].attention.compute_dtype
        cache = tuple(tf.TensorSpec((None, self.seq_len, self.num_heads, self.head_dim), self.cache_dtype)
                      for _ in self.blocks)  # (batch, seq_len slots, heads, head_dim) per block
        self._step = tf.function(self.step, input_signature=[tf.TensorSpec((None, 1), tf.int32),
                                                             tf.TensorSpec((), tf.int32), cache, cache],
                                 jit_compile=jit_compile)  # XLA: the step's fixed shapes compile once
        self._forward = tf.function(lambda ids: model(ids, training=False)[:, -1],
                                    input_signature=[tf.TensorSpec((None, None), tf.int32)])

    def empty_cache(self, batch_size: int = 1) -> tuple:
        """One (batch, seq_len, heads, head_dim) array of zeros per block: no slot filled yet."""
        shape = (batch_size, self.seq_len, self.num_heads, self.head_dim)
        return tuple(np.zeros(shape, self.cache_dtype) for _ in self.blocks)

    def step(self, token, position, keys, values):
        """Feed one token at ``position``: ``(logits (batch, V), keys, values)`` with slot ``position`` filled."""
        ops = keras.ops
        x = self.embedding(token, start=position)  # (batch, 1, d_model): token vector + position vector
        zero = ops.zeros((), "int32")
        slot = ops.stack([zero, ops.cast(position, "int32"), zero, zero])  # where the new key and value go
        filled = ops.arange(self.seq_len) <= position  # (seq_len,): slots 0..position hold keys (the causal mask)
        new_keys, new_values = [], []
        for block, k, v in zip(self.blocks, keys, values, strict=True):
            attention, h = block.attention, block.norm1(x)
            q = attention.query_dense(h) * ops.cast(1.0 / math.sqrt(self.head_dim), h.dtype)  # (batch, 1, heads, hd)
            k = ops.slice_update(k, slot, attention.key_dense(h))  # (batch, seq_len, heads, hd)
            v = ops.slice_update(v, slot, attention.value_dense(h))
            scores = ops.einsum("bqhd,bkhd->bhqk", q, k)  # (batch, heads, 1, seq_len)
            scores = ops.where(filled, scores, ops.cast(-1e4, scores.dtype))  # empty slots get weight 0
            weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)
            out = ops.einsum("bhqk,bkhd->bqhd", ops.cast(weights, v.dtype), v)  # (batch, 1, heads, hd)
            x = x + attention.output_dense(out)
            x = x + block.feed_forward(block.norm2(x))
            new_keys.append(k)
            new_values.append(v)
        logits = self.embedding(self.final_norm(x), reverse=True)[:, -1]  # (batch, V)
        return logits, tuple(new_keys), tuple(new_values)

    def generate(self, prompt: list[int], num_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: int = 0, step_times: list[float] | None = None) -> list[int]:
        """Extend ``prompt`` by ``num_tokens`` tokens; ``step_times`` (a list) gets the seconds of each new token.

        With the cache, the first new token's time includes feeding the prompt, one token at a time.
        """
        if not prompt:
            raise ValueError("prompt must hold at least one token id")
        if len(prompt) + num_tokens - 1 > self.seq_len:
            raise ValueError(f"prompt ({len(prompt)} tokens) plus {num_tokens} new tokens do not fit in the context "
                             f"of {self.seq_len} positions (learned positions stop there)")
        rng = np.random.default_rng(seed)
        ids = list(prompt)
        keys = values = self.empty_cache()
        position = 0  # the next position to feed into the cache
        while len(ids) < len(prompt) + num_tokens:
            start = time.perf_counter()
            if self.kv_cache:
                while position < len(ids):  # the prompt one token at a time, then each new token once
                    logits, keys, values = self._step(np.array([[ids[position]]], np.int32), np.int32(position),
                                                      keys, values)
                    position += 1
            else:
                logits = self._forward(np.array([ids], np.int32))  # the whole sequence again
            ids.append(sample_next(keras.ops.convert_to_numpy(logits)[0], temperature, top_k, rng))
            if step_times is not None:
                step_times.append(time.perf_counter() - start)
        return ids
