import keras
import numpy as np
import pytest

from labs_lib import models


def test_mlp_flattens_images_explicitly_and_names_layers():
    model = models.build_mlp(models.MLPConfig(input_shape=(28, 28), hidden_units=(32, 16), dropout=0.2, l2=1e-4))
    names = [layer.name for layer in model.layers]
    assert names == ["inputs", "flatten", "hidden1", "relu1", "dropout1", "hidden2", "relu2", "dropout2", "output"]
    assert model.get_layer("hidden1").kernel.shape == (784, 32)
    out = model(np.zeros((3, 28, 28), "float32"))
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)  # softmax rows sum to one


def test_lenet_and_resnet_shapes():
    lenet = models.build_cnn(models.CNNConfig(input_shape=(28, 28)))
    assert lenet.get_layer("add_channel").output.shape == (None, 28, 28, 1)
    assert lenet.get_layer("pool2").output.shape == (None, 7, 7, 64)
    assert lenet.output.shape == (None, 10)
    resnet = models.build_cnn(models.CNNConfig(architecture="resnet", filters=(8, 16), input_shape=(16, 16, 3)))
    assert resnet.get_layer("block2_out").output.shape == (None, 8, 8, 16)  # stride 2 halves, shortcut projects
    assert "block2_shortcut" in [layer.name for layer in resnet.layers]
    assert "block1_shortcut" not in [layer.name for layer in resnet.layers]  # identity shortcut when shapes agree


@pytest.mark.parametrize("cell, layer_type", [("simple", keras.layers.SimpleRNN), ("lstm", keras.layers.LSTM), ("gru", keras.layers.GRU)])
def test_rnn_builder(cell, layer_type):
    model = models.build_rnn(models.RNNConfig(cell=cell, vocab_size=20, units=8, num_layers=2, return_sequences=True, num_classes=20))
    assert isinstance(model.get_layer(f"{cell}1"), layer_type)
    assert model(np.zeros((2, 7), "int32")).shape == (2, 7, 20)
    classifier = models.build_rnn(models.RNNConfig(cell=cell, input_dim=3, units=8, num_classes=4))
    assert classifier(np.zeros((2, 5, 3), "float32")).shape == (2, 4)


def test_positional_encoding_is_sin_on_even_cos_on_odd_over_positions():
    pe = models.positional_encoding(seq_len=50, d_model=16)
    pos = np.arange(50)
    for i in range(8):
        angle = pos / 10000 ** (2 * i / 16)
        np.testing.assert_allclose(pe[:, 2 * i], np.sin(angle), atol=1e-6)
        np.testing.assert_allclose(pe[:, 2 * i + 1], np.cos(angle), atol=1e-6)
    np.testing.assert_allclose(pe[0, 1::2], 1.0)  # cos(0) on every odd dimension at position 0
    assert models.positional_encoding(7, 5).shape == (7, 5)  # odd sizes work too


def test_transformer_block_rejects_bad_head_count():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        models.TransformerBlock(d_model=30, num_heads=4, ff_dim=8)


def test_transformer_outputs_and_attention_scores():
    config = models.TransformerConfig(vocab_size=12, seq_len=6, d_model=16, num_heads=2, ff_dim=32, num_layers=1, dropout=0.0)
    model = models.build_transformer(config)
    tokens = np.random.default_rng(0).integers(0, 12, (3, 6)).astype("int32")
    assert model(tokens).shape == (3, 6, 12)
    x = model.get_layer("embedding")(tokens)
    scores = model.get_layer("block1").attention_scores(x)
    assert scores.shape == (3, 2, 6, 6)
    np.testing.assert_allclose(np.sum(scores, axis=-1), 1.0, rtol=1e-5)
    pooled = models.build_transformer(models.TransformerConfig(per_token=False, num_classes=3, d_model=16, num_heads=2))
    assert pooled(np.zeros((2, 10), "int32")).shape == (2, 3)


def test_gpt_is_causal():
    model = models.build_gpt(models.GPTConfig(vocab_size=20, seq_len=8, d_model=16, num_heads=2, num_layers=2, ff_dim=32, dropout=0.0))
    a = np.array([[1, 2, 3, 4, 5, 6, 7, 8]], "int32")
    b = a.copy()
    b[0, 5:] = [9, 9, 9]  # change only the future of position 4
    la, lb = np.asarray(model(a)), np.asarray(model(b))
    np.testing.assert_allclose(la[0, :5], lb[0, :5], atol=1e-5)
    assert not np.allclose(la[0, 5:], lb[0, 5:])
    attention = model.get_layer("block1").attention_scores(model.get_layer("embedding")(a))
    assert np.allclose(np.triu(np.asarray(attention)[0, 0], k=1), 0.0), "no weight on later positions"


def test_gpt_head_is_tied_to_the_token_embedding_without_a_sqrt_d_factor():
    config = models.GPTConfig(vocab_size=13, seq_len=6, d_model=8, num_heads=2, num_layers=1, ff_dim=16, dropout=0.0)
    model = models.build_gpt(config)
    tokens = np.array([[3, 1, 4, 1, 5, 9]], "int32")
    embedding = model.get_layer("embedding")
    E = np.asarray(embedding.token_embedding.embeddings)  # (V, d_model)
    P = np.asarray(embedding.position_embedding.embeddings)  # (seq_len, d_model)
    np.testing.assert_allclose(np.asarray(embedding(tokens))[0], E[tokens[0]] + P, rtol=1e-6)
    hidden = keras.Model(model.inputs[0], model.get_layer("final_norm").output)(tokens)
    np.testing.assert_allclose(np.asarray(model(tokens)), np.asarray(hidden) @ E.T, rtol=1e-5, atol=1e-6)
    # parameters: embeddings, per block 4 d^2 + 4 d (attention) + 2 d ff + ff + d (MLP) + 4 d (norms), final norm
    d, ff, V, T = 8, 16, 13, 6
    assert model.count_params() == V * d + T * d + (4 * d * d + 4 * d + 2 * d * ff + ff + d + 4 * d) + 2 * d
    block = model.get_layer("block1")
    assert block.epsilon == 1e-5 and block.activation == "gelu_tanh"


@pytest.mark.parametrize("jit_compile", [False, True])
def test_kv_cache_generation_gives_the_same_tokens_as_generate(jit_compile):
    config = models.GPTConfig(vocab_size=17, seq_len=12, d_model=16, num_heads=2, num_layers=2, ff_dim=32, dropout=0.0)
    model = models.build_gpt(config)
    prompt = [1, 2, 3]
    cached = models.Generator(model, kv_cache=True, jit_compile=jit_compile)
    uncached = models.Generator(model, kv_cache=False)
    for kwargs in ({"top_k": 1}, {"temperature": 1.0, "seed": 4}, {"temperature": 2.0, "top_k": 5, "seed": 1}):
        expected = models.generate(model, prompt, num_tokens=10, seq_len=12, **kwargs)
        assert cached.generate(prompt, 10, **kwargs) == expected
        assert uncached.generate(prompt, 10, **kwargs) == expected
    times = []
    cached.generate(prompt, 5, step_times=times)
    assert len(times) == 5 and all(t > 0 for t in times)
    with pytest.raises(ValueError, match="do not fit"):
        cached.generate(prompt, 11)  # 3 + 11 - 1 = 13 positions > 12


def test_kv_cache_step_logits_match_the_full_forward_pass():
    config = models.GPTConfig(vocab_size=11, seq_len=7, d_model=8, num_heads=2, num_layers=2, ff_dim=16, dropout=0.0)
    model = models.build_gpt(config)
    tokens = np.array([[5, 3, 9, 0, 2, 2, 7]], "int32")
    full = np.asarray(model(tokens))[0]  # (T, V)
    generator = models.Generator(model)
    keys = values = generator.empty_cache()
    for t in range(7):
        logits, keys, values = generator.step(tokens[:, t:t + 1], t, keys, values)
        np.testing.assert_allclose(np.asarray(logits)[0], full[t], rtol=1e-5, atol=1e-5)


def test_mixed_precision_keeps_output_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        for model in [models.build_mlp(), models.build_cnn()]:
            assert model.layers[-1].dtype_policy.compute_dtype == "float32", model.name
            assert model.layers[1].dtype_policy.compute_dtype == "float16", model.name
        gpt = models.build_gpt(models.GPTConfig(vocab_size=10, seq_len=4, d_model=8, num_heads=2, ff_dim=16))
        assert gpt.get_layer("block1").compute_dtype == "float16"
        assert gpt(np.zeros((2, 4), "int32")).dtype == "float32"  # the tied head computes the logits in float32
        gpt32 = models.build_gpt(models.GPTConfig(vocab_size=10, seq_len=4, d_model=8, num_heads=2, ff_dim=16,
                                                  dtype="float32"))
        assert {layer.compute_dtype for layer in gpt32.layers[1:]} == {"float32"}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_custom_layers_in_float32_under_mixed_precision_compute_in_float32():
    """A lesson checks its NumPy code against a block made with dtype="float32", also when a GPU picks mixed precision."""
    from labs_lib import device

    device.current_profile()  # set up first: setup() sets the policy itself
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        block = models.TransformerBlock(8, 2, 16, dtype="float32", name="block")
        assert block(x).dtype == "float32"  # mixing float16 sublayers into a float32 residual used to fail here
        sublayers = [block.attention, block.norm1, block.norm2, *block.feed_forward.layers]
        assert {layer.dtype_policy.name for layer in sublayers} == {"float32"}
        embedding = models.PositionalEmbedding(10, 5, 8, positions="learned", dtype="float32")
        assert embedding(np.zeros((2, 5), dtype="int32")).dtype == "float32"
        assert embedding.token_embedding.dtype_policy.name == embedding.position_embedding.dtype_policy.name == "float32"
        mixed = models.TransformerBlock(8, 2, 16, name="mixed")  # by default the block follows the global policy
        assert mixed(x).dtype == "float16" and mixed.attention.dtype_policy.name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_sampling_respects_top_k_and_temperature():
    logits = np.array([5.0, 4.0, 0.0, -1.0])
    rng = np.random.default_rng(0)
    draws = {models.sample_next(logits, temperature=1.0, top_k=2, rng=rng) for _ in range(200)}
    assert draws == {0, 1}
    cold = {models.sample_next(logits, temperature=0.01, rng=rng) for _ in range(50)}
    assert cold == {0}
    with pytest.raises(ValueError, match="temperature must be > 0"):
        models.sample_next(logits, temperature=0)


def test_generate_extends_the_prompt():
    model = models.build_gpt(models.GPTConfig(vocab_size=11, seq_len=4, d_model=8, num_heads=2, num_layers=1, ff_dim=16))
    out = models.generate(model, [1, 2], num_tokens=6, seq_len=4, seed=0)
    assert out[:2] == [1, 2] and len(out) == 8 and all(0 <= t < 11 for t in out)
    assert out == models.generate(model, [1, 2], num_tokens=6, seq_len=4, seed=0)


@pytest.mark.parametrize("build, config, message", [
    (models.build_mlp, models.MLPConfig(dropout=1.0), "dropout"),
    (models.build_cnn, models.CNNConfig(architecture="vgg"), "architecture"),
    (models.build_rnn, models.RNNConfig(cell="transformer"), "cell must be"),
    (models.build_gpt, models.GPTConfig(num_layers=0), "num_layers"),
])
def test_bad_configurations_say_what_is_wrong(build, config, message):
    with pytest.raises(ValueError, match=message):
        build(config)


def test_custom_layers_survive_save_and_load(tmp_path):
    model = models.build_transformer(models.TransformerConfig(d_model=16, num_heads=2, ff_dim=16, num_layers=1))
    tokens = np.arange(10, dtype="int32")[None] % 12
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(tokens)), np.asarray(model(tokens)), atol=1e-6)


def test_lenet_with_batch_norm_puts_bn_between_conv_and_relu():
    model = models.build_cnn(models.CNNConfig(filters=(4, 8), dense_units=16, batch_norm=True))
    names = [layer.name for layer in model.layers]
    assert names[:9] == ["images", "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2"]
    assert model.get_layer("conv1").use_bias is False  # BN's beta is the bias
    assert model.get_layer("pool2").output.shape == (None, 7, 7, 8)
    plain = models.build_cnn(models.CNNConfig(filters=(4, 8), dense_units=16))
    assert "bn1" not in [layer.name for layer in plain.layers]  # the default LeNet is unchanged


def test_zero_init_residual_block_is_the_identity_at_initialization():
    x = np.abs(np.random.default_rng(0).normal(size=(2, 6, 6, 4))).astype("float32")  # >= 0, as after a ReLU
    inputs = keras.Input((6, 6, 4))
    block = keras.Model(inputs, models.residual_block(inputs, 4, name="b", zero_init=True))
    np.testing.assert_array_equal(block.get_layer("b_bn2").gamma.numpy(), 0.0)
    for training in (False, True):  # with stored and with batch statistics, F(x) is 0 and the block returns x
        np.testing.assert_allclose(block(x, training=training), x, atol=1e-6)
    default = keras.Model(inputs, models.residual_block(inputs, 4, name="d"))
    assert np.abs(default(x, training=True).numpy() - x).max() > 0.1  # gamma = 1: F is not small
    resnet = models.build_cnn(models.CNNConfig(architecture="resnet", filters=(4, 8), zero_init_residual=True))
    for name in ("block1_bn2", "block2_bn2"):
        np.testing.assert_array_equal(resnet.get_layer(name).gamma.numpy(), 0.0)
    np.testing.assert_array_equal(resnet.get_layer("block2_shortcut_bn").gamma.numpy(), 1.0)


def test_gpt_refuses_an_input_longer_than_its_position_table():
    model = models.build_gpt(models.GPTConfig(vocab_size=20, seq_len=8, d_model=16, num_heads=2, num_layers=1,
                                              ff_dim=32, dropout=0.0))
    assert model(np.zeros((1, 8), "int32")).shape == (1, 8, 20)
    with pytest.raises(ValueError, match="crop the input to its last 8 tokens"):
        model(np.zeros((1, 9), "int32"))
