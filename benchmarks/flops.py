"""How close to the machine: achieved FLOP/s of a training step against a large matrix product.

    python -m benchmarks.flops [--quick]

The reference is ``tf.linalg.matmul`` of two n x n float32 matrices (2 n^3 floating-point operations),
the fastest thing this TensorFlow build does on this machine. A training step (forward, gradients,
optimizer update; one ``tf.function``) of the course's CNN (LeNet-style, 28x28 images) and of its
Transformer (GPT builder) is timed the same way. Its operations are counted from the step's own graph:
every matrix product and convolution (``MatMul``, ``BatchMatMul``, ``Einsum``, ``Conv2D`` and both of its
gradients) with the static shapes there, 2 operations per multiply-add, leaving out what TensorFlow prunes
because nothing uses it; element-wise work is not counted, so the figures are a slight underestimate. The ratio step FLOP/s / matmul FLOP/s says how much of the
machine a course model uses; small models on a CPU reach a fraction of it.
"""

from __future__ import annotations

from benchmarks.common import figure, main, median_seconds

MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def _dims(tensor) -> list[int] | None:
    shape = tensor.shape
    if shape.rank is None or any(d is None for d in shape.as_list()):
        return None
    return shape.as_list()


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def op_flops(op) -> int | None:
    """Floating-point operations of one matrix product or convolution op (None: unknown shapes)."""
    kind = op.type
    if kind in MATMUL_OPS:
        a, out = _dims(op.inputs[0]), _dims(op.outputs[0])
        if a is None or out is None:
            return None
        transposed = op.get_attr("transpose_a") if kind == "MatMul" else op.get_attr("adj_x")
        k = a[-2] if transposed else a[-1]
        return 2 * _prod(out) * k
    if kind == "Einsum":
        equation = op.get_attr("equation").decode()
        inputs, _ = equation.replace(" ", "").split("->")
        operands = inputs.split(",")
        if "." in equation or len(operands) != 2:
            return None
        sizes: dict[str, int] = {}
        for letters, tensor in zip(operands, op.inputs, strict=True):
            dims = _dims(tensor)
            if dims is None:
                return None
            sizes.update(zip(letters, dims, strict=True))
        return 2 * _prod(sizes.values())  # one multiply-add per combination of all indices
    if kind in CONV_OPS:
        # forward: out (N, Ho, Wo, Cout) x filter (kh, kw, Cin, Cout); both gradients cost the same
        if kind == "Conv2D":
            out, filt = _dims(op.outputs[0]), _dims(op.inputs[1])
        elif kind == "Conv2DBackpropInput":
            out, filt = _dims(op.inputs[2]), _dims(op.inputs[1])
        else:
            out, filt = _dims(op.inputs[2]), _dims(op.outputs[0])
        if out is None or filt is None:
            return None
        return 2 * _prod(out) * filt[0] * filt[1] * filt[2]
    return 0


def live_ops(graph) -> list:
    """The ops whose results are used: reachable backwards from the graph's outputs and its stateful ops
    (variable updates). TensorFlow prunes the rest before running, e.g. the gradient of a first layer's
    input, which backpropagation builds but nothing reads."""
    roots = [t.op for t in getattr(graph, "outputs", [])]
    roots += [op for op in graph.get_operations() if op._is_stateful]  # noqa: SLF001
    live, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op.name in live]


def graph_flops(graph) -> tuple[int, int]:
    """(operations counted, ops whose count is unknown) over the live ops of a graph and the functions
    they call."""
    total, unknown = 0, 0
    seen = set()

    def visit(g, ops):
        nonlocal total, unknown
        for op in ops:
            count = op_flops(op)
            if count is None:
                unknown += 1
            else:
                total += count
            for attr in ("f", "then_branch", "else_branch", "body", "cond"):
                try:
                    fn = op.get_attr(attr)
                except (ValueError, TypeError):
                    continue
                name = getattr(fn, "name", None)
                if name and name not in seen:
                    seen.add(name)
                    inner = g._get_function(name)  # noqa: SLF001 - the graph's function library
                    if inner is not None and getattr(inner, "graph", None) is not None:
                        visit(inner.graph, inner.graph.get_operations())

    visit(graph, live_ops(graph))
    return total, unknown


def matmul_gflops(n: int, repeats: int) -> float:
    import tensorflow as tf

    a = tf.random.normal([n, n], seed=1)
    b = tf.random.normal([n, n], seed=2)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    return 2 * n**3 / median_seconds(lambda: product(a, b).numpy(), repeats) / 1e9


def train_step(model, loss_fn, jit_compile: bool = False):
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step


def step_figure(name: str, model, x, y, repeats: int, reference: float) -> list[dict]:
    """The step's FLOP/s and its ratio to the matmul's; then the same step compiled with XLA (``jit_compile``),
    timed in alternation with the plain one, as a speed ratio (XLA must also work under the course's op
    determinism, which ``config.set_seed`` turns on)."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    step = train_step(model, loss_fn)
    flops, unknown = graph_flops(step.get_concrete_function(x, y).graph)
    seconds = median_seconds(lambda: step(x, y).numpy(), repeats)
    achieved = flops / seconds / 1e9
    ratio = achieved / reference if flops and not unknown else float("nan")
    detail = (f"{flops / 1e9:.3f} GFLOP per step of batch {x.shape[0]} in {seconds * 1000:.1f} ms; "
              f"{model.count_params():,} parameters" + (f"; {unknown} ops of unknown shape" if unknown else ""))
    figures = [
        figure(f"{name} training step", achieved, "GFLOP/s", detail=detail),
        figure(f"{name} training step / large matmul", ratio, "x", detail="achieved FLOP/s over the matmul's"),
    ]
    xla = train_step(model, loss_fn, jit_compile=True)
    try:
        xla(x, y).numpy()  # compiles once
    except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError) as error:
        reason = str(error).strip().splitlines()[0][:160]
        figures[1]["detail"] += f"; XLA (jit_compile) not available with op determinism: {reason}"
        return figures
    plain_times, xla_times = [], []
    for i in range(3):  # alternate, so that a change of the machine's pace hits both alike
        for fn, times in ([(step, plain_times), (xla, xla_times)] if i % 2 == 0 else
                          [(xla, xla_times), (step, plain_times)]):
            times.append(median_seconds(lambda fn=fn: fn(x, y).numpy(), repeats))
    speedup = sorted(p / q for p, q in zip(plain_times, xla_times, strict=True))[1]  # the median of 3
    figures.append(figure(f"{name} training step, XLA (jit_compile) speed-up", speedup, "x",
                          detail=f"plain {1000 * sorted(plain_times)[1]:.1f} ms, XLA "
                                 f"{1000 * sorted(xla_times)[1]:.1f} ms (> 1: XLA is faster)"))
    return figures


def run(quick: bool) -> list[dict]:
    import tensorflow as tf

    from labs_lib import config, device, models

    device.setup()
    config.set_seed(0)
    n = 1024 if quick else 2048
    repeats = 5 if quick else 20
    reference = matmul_gflops(n, repeats)
    figures = [figure(f"large matmul ({n}x{n}, float32)", reference, "GFLOP/s",
                      detail="the reference: 2 n^3 operations per product")]

    batch = 64 if quick else 128
    cnn = models.build_cnn(models.CNNConfig(output_activation=None))
    x = tf.random.uniform([batch, 28, 28, 1])
    y = tf.random.uniform([batch], 0, 10, dtype=tf.int32)
    figures += step_figure("CNN (LeNet-style, 28x28)", cnn, x, y, repeats, reference)

    gpt_config = models.GPTConfig(vocab_size=96, seq_len=64, d_model=128, num_heads=4, num_layers=2, ff_dim=512)
    gpt = models.build_gpt(gpt_config)
    tokens = tf.random.uniform([batch // 2, gpt_config.seq_len + 1], 0, gpt_config.vocab_size, dtype=tf.int32)
    figures += step_figure("Transformer (GPT, 2 blocks, d_model 128, 64 tokens)", gpt, tokens[:, :-1],
                           tokens[:, 1:], repeats, reference)
    matmul_again = matmul_gflops(n, repeats)  # the machine may have changed pace meanwhile: say so
    figures[0]["detail"] += f"; measured again after the models: {matmul_again:.1f} GFLOP/s"
    return figures


if __name__ == "__main__":
    main("flops", run, __doc__)
