"""Device profiles. Each test runs in a fresh process: the device layout can only be set once per process."""

import json
import os
import subprocess
import sys

from conftest import free_ports, run_python

PRINT_PROFILE = """
import json
from labs_lib import device
p = device.setup({args})
print("PROFILE=" + json.dumps({{"kind": p.kind, "replicas": p.num_replicas, "policy": p.policy,
    "strategy": type(p.strategy).__name__, "batch": p.batch_size, "devices": p.devices, "report": p.report()}}))
"""


def _profile(args: str = "", env: dict | None = None) -> dict:
    result = run_python(PRINT_PROFILE.format(args=args), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROFILE="))
    return json.loads(line[len("PROFILE="):])


def test_cpu_profile_without_gpu():
    p = _profile("force_cpu=True")
    assert p["kind"] == "cpu"
    assert p["replicas"] == 1
    assert p["policy"] == "float32"
    assert p["batch"] == 64
    assert "CPU" in p["report"] and "float32" in p["report"] and "GPUs hidden" in p["report"]


def test_forced_policy_is_applied_and_explained():
    p = _profile("force_cpu=True, policy='mixed_bfloat16', batch_size_per_replica=16")
    assert p["policy"] == "mixed_bfloat16"
    assert p["batch"] == 16
    assert "slower" in p["report"]


def test_two_logical_cpus_train_under_mirrored_strategy_with_two_replicas():
    code = """
import numpy as np
from labs_lib import config, device, models, training
profile = device.setup(cpu_devices=2)
assert profile.kind == "multi-cpu", profile.kind
assert type(profile.strategy).__name__ == "MirroredStrategy"
assert profile.num_replicas == 2 and len(profile.devices) == 2, profile
config.set_seed(0)
X = np.random.normal(size=(512, 4)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("int64")
model = training.compile(models.build_mlp(models.MLPConfig(input_shape=(4,), hidden_units=(16,), num_classes=2)), lr=0.05)
assert model.distribute_strategy is profile.strategy
history = training.fit(model, X, y, num_epochs=5, batch_size=64)
loss = history.history["loss"]
print("LOSS", loss[0], loss[-1])
assert loss[-1] < 0.7 * loss[0], loss
# the second call with the same arguments returns the same profile; a different layout is refused clearly
assert device.setup(cpu_devices=2) is profile
try:
    device.setup(cpu_devices=3)
except RuntimeError as error:
    assert "restart the kernel" in str(error), error
else:
    raise AssertionError("changing the layout after start must fail")
print("OK")
"""
    result = run_python(code)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "OK" in result.stdout




def test_tf_config_cluster_selects_multi_worker_strategy():
    """Two real workers on 127.0.0.1: both pick MultiWorkerMirroredStrategy with 2 replicas."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    code = PRINT_PROFILE.format(args="")
    workers = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            workers.append(subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))  # fmt: skip
        outputs = [w.communicate(timeout=180) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for (out, err), w in zip(outputs, workers, strict=True):
        assert w.returncode == 0, err[-2000:]
        profile = json.loads(next(line for line in out.splitlines() if line.startswith("PROFILE="))[8:])
        assert profile["kind"] == "multi-worker"
        assert profile["replicas"] == 2
        assert "2 workers from TF_CONFIG" in profile["report"]
        assert len(profile["devices"]) == 1, profile["devices"]  # one local device per worker


def test_invalid_arguments_are_rejected_with_a_clear_message():
    import pytest

    from labs_lib import device

    with pytest.raises(ValueError, match="policy must be one of"):
        device.setup(policy="float8")
    with pytest.raises(ValueError, match="cpu_devices must be a positive integer"):
        device.setup(cpu_devices=0)
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        device._cluster_workers("{not json")


def test_float16_only_on_tensor_core_gpus():
    from labs_lib import device

    assert device._gpu_supports_float16({"compute_capability": (8, 0)})
    assert device._gpu_supports_float16({"compute_capability": (7, 0)})
    assert not device._gpu_supports_float16({"compute_capability": (6, 1)})
    assert not device._gpu_supports_float16({})
