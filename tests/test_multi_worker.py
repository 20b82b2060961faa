"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 train a few steps and end with the same weights.

The workers are real processes that talk gRPC over loopback, as two machines would; the test stops them
however it ends. (They train with a custom loop: Keras 3.15's ``model.fit`` fails under this strategy.)
"""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import free_ports

WORKER = r"""
import json, os, sys
import keras, numpy as np, tensorflow as tf
from labs_lib import config, device, models

folder, index = sys.argv[1], json.loads(os.environ["TF_CONFIG"])["task"]["index"]
profile = device.setup()
assert profile.kind == "multi-worker" and profile.num_replicas == 2, profile.report()
config.set_seed(0)
strategy = profile.strategy
data = np.load(os.path.join(folder, "data.npz"))
model = models.build_mlp(models.MLPConfig(input_shape=(4,), hidden_units=(8,), num_classes=2))
with strategy.scope():
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    optimizer.build(model.trainable_variables)
loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
GLOBAL_BATCH = 32

@tf.function
def train_step(batch):
    def step(X, y):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(loss_fn(y, model(X, training=True)), global_batch_size=GLOBAL_BATCH)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return strategy.reduce("SUM", strategy.run(step, args=batch), axis=None)

options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = tf.data.Dataset.from_tensor_slices((data["X"], data["y"])).batch(GLOBAL_BATCH).with_options(options)
initial = [w.copy() for w in model.get_weights()]
losses = [float(train_step(b)) for b in strategy.experimental_distribute_dataset(dataset)]
np.savez(os.path.join(folder, f"worker{index}.npz"), *model.get_weights())
moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, model.get_weights()))
print("LOSSES", json.dumps(losses), "MOVED", moved, flush=True)
"""




def test_two_workers_train_in_step(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 4)).astype("float32")  # 4 steps of a global batch of 32
    np.savez(tmp_path / "data.npz", X=X, y=(X[:, 0] > X[:, 1]).astype("int64"))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers, outputs = [], []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            workers.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path)], env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:  # a worker whose partner died would wait forever
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err[-3000:]
        assert "LOSSES" in out
        assert float(out.split("MOVED")[1]) > 1e-3, "training must actually change the weights"
    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert len(first.files) == 4
    for key in first.files:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-6, atol=1e-7)
    assert outputs[0][0].split("LOSSES")[1].split("MOVED")[0] == outputs[1][0].split("LOSSES")[1].split("MOVED")[0]
