"""Device profiles. Each test runs in a fresh process: the device layout can only be set once per process."""

import json
import os
import subprocess
import sys

import pytest

from conftest import free_ports, run_python

PRINT_PROFILE = """
import json
from labs_lib import device
p = device.setup({args})
print("PROFILE=" + json.dumps({{"kind": p.kind, "replicas": p.num_replicas, "policy": p.policy,
    "strategy": type(p.strategy).__name__, "batch": p.batch_size, "devices": p.devices, "report": p.report()}}))
"""


def _profile(args: str = "", env: dict | None = None) -> dict:
    env = {"LABS_PRECISION": "", "LABS_REPLICAS": "", **(env or {})}  # empty is unset: only what the test says
    result = run_python(PRINT_PROFILE.format(args=args), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROFILE="))
    return json.loads(line[len("PROFILE="):])


@pytest.mark.slow
def test_cpu_profile_without_gpu():
    p = _profile("force_cpu=True")
    assert p["kind"] == "cpu"
    assert p["replicas"] == 1
    assert p["policy"] == "float32"
    assert p["batch"] == 64
    assert "CPU" in p["report"] and "float32" in p["report"] and "GPUs hidden" in p["report"]


@pytest.mark.slow
def test_forced_policy_is_applied_and_explained():
    p = _profile("force_cpu=True, policy='mixed_bfloat16', batch_size_per_replica=16")
    assert p["policy"] == "mixed_bfloat16"
    assert p["batch"] == 16
    assert "slower" in p["report"]


@pytest.mark.slow
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
    result = run_python(code, env={"LABS_PRECISION": "", "LABS_REPLICAS": ""})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "OK" in result.stdout




@pytest.mark.slow
def test_tf_config_cluster_selects_multi_worker_strategy():
    """Two real workers on 127.0.0.1: both pick MultiWorkerMirroredStrategy with 2 replicas."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    code = PRINT_PROFILE.format(args="")
    workers = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "LABS_PRECISION": "", "LABS_REPLICAS": "",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            workers.append(subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))
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
    from labs_lib import device

    with pytest.raises(ValueError, match="policy must be one of"):
        device.setup(policy="float8")
    with pytest.raises(ValueError, match="cpu_devices must be a positive integer"):
        device.setup(cpu_devices=0)
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        device._cluster_workers("{not json")


@pytest.fixture
def simulated_gpus(monkeypatch):
    """``simulated_gpus(details, ...)`` makes device.setup() see one GPU per dict of device details.

    Patches what setup() reads (visible devices, ``tf.config.experimental.get_device_details``, logical devices)
    and the strategies it would build on them, restores the Keras policy afterwards, and starts from no profile.
    """
    import keras
    import tensorflow as tf

    from labs_lib import device

    class FakeStrategy:
        def __init__(self, devices, **kwargs):
            self.num_replicas_in_sync = 1 if isinstance(devices, str) else len(devices)

    def install(*details: dict):
        physical = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(len(details))]
        logical = [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(len(details))]
        by_name = {gpu.name: d for gpu, d in zip(physical, details, strict=True)}
        real_visible, real_logical = tf.config.get_visible_devices, tf.config.list_logical_devices
        monkeypatch.setattr(tf.config, "get_visible_devices",
                            lambda kind=None: physical if kind == "GPU" else real_visible(kind))
        monkeypatch.setattr(tf.config, "list_logical_devices",
                            lambda kind=None: logical if kind == "GPU" else real_logical(kind))
        monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, enable: None)
        monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: by_name[gpu.name])
        monkeypatch.setattr(tf.distribute, "OneDeviceStrategy", FakeStrategy)
        monkeypatch.setattr(tf.distribute, "MirroredStrategy", FakeStrategy)

    monkeypatch.setattr(device, "_current", None)
    monkeypatch.setattr(device, "_current_args", None)
    for name in (device.PRECISION_ENV, device.REPLICAS_ENV, "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    before = keras.mixed_precision.global_policy().name
    yield install
    keras.mixed_precision.set_global_policy(before)


A100 = {"device_name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0)}
H100 = {"device_name": "NVIDIA H100 80GB HBM3", "compute_capability": (9, 0)}
RTX3060 = {"device_name": "NVIDIA GeForce RTX 3060", "compute_capability": (8, 6)}
T4 = {"device_name": "Tesla T4", "compute_capability": (7, 5)}
V100 = {"device_name": "Tesla V100-SXM2-16GB", "compute_capability": (7, 0)}
P100 = {"device_name": "Tesla P100-PCIE-16GB", "compute_capability": (6, 0)}


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [((H100,), "mixed_bfloat16"), ((A100,), "mixed_bfloat16"), ((RTX3060,), "mixed_bfloat16"),
     ((T4,), "mixed_float16"), ((V100,), "mixed_float16"), ((P100,), "float32"),
     ((A100, A100), "mixed_bfloat16"), ((A100, V100), "mixed_float16"), ((T4, P100), "float32")],
    ids=["H100", "A100", "RTX3060", "T4", "V100", "P100", "2xA100", "A100+V100", "T4+P100"],
)
def test_setup_prefers_bfloat16_from_compute_capability_8_and_float16_on_7x(simulated_gpus, gpus, expected):
    import keras

    from labs_lib import device

    simulated_gpus(*gpus)
    profile = device.setup()
    assert profile.policy == expected
    assert keras.mixed_precision.global_policy().name == expected  # what the model builders will use
    assert profile.kind == (device.ONE_GPU if len(gpus) == 1 else device.MULTI_GPU)
    assert profile.gpu_names == [g["device_name"] for g in gpus]
    assert profile.batch_size == device.GPU_BATCH_SIZE * len(gpus)
    assert "slower" not in profile.report()  # the automatic choice is never one that slows the GPU down


def test_gpu_without_reported_capability_stays_in_float32():
    from labs_lib import device

    assert device.gpu_policy({"device_name": "some GPU"}) == "float32"
    assert device.choose_policy([]) == "float32"


def test_labs_precision_overrides_the_gpus_choice_and_an_argument_overrides_both(simulated_gpus, monkeypatch):
    from labs_lib import device

    simulated_gpus(A100)
    monkeypatch.setenv("LABS_PRECISION", "mixed_float16")
    profile = device.setup()
    assert profile.policy == "mixed_float16"
    assert "precision mixed_float16 from LABS_PRECISION" in profile.report()
    profile = device.setup(policy="float32")  # a lesson that needs float32 asks for it, as on a real GPU
    assert profile.policy == "float32"
    assert "LABS_PRECISION=mixed_float16 ignored: policy='float32' passed to setup()" in profile.report()


def test_labs_replicas_is_ignored_when_gpus_are_found(simulated_gpus, monkeypatch):
    from labs_lib import device

    simulated_gpus(T4)
    monkeypatch.setenv("LABS_REPLICAS", "2")
    profile = device.setup()
    assert profile.kind == device.ONE_GPU and profile.num_replicas == 1
    assert "LABS_REPLICAS=2 ignored: GPUs found" in profile.report()


@pytest.mark.parametrize("value", ["float16", "fp16", "Mixed_Float16", "bf16"])
def test_bad_labs_precision_says_what_to_use(monkeypatch, value):
    from labs_lib import device

    monkeypatch.setenv("LABS_PRECISION", value)
    with pytest.raises(ValueError, match=r"LABS_PRECISION must be one of float32, mixed_float16, mixed_bfloat16"):
        device.setup()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_labs_replicas_says_what_to_use(monkeypatch, value):
    from labs_lib import device

    monkeypatch.setenv("LABS_REPLICAS", value)
    with pytest.raises(ValueError, match=r"LABS_REPLICAS must be a positive integer.*LABS_REPLICAS=2"):
        device.setup()


@pytest.mark.slow
def test_environment_simulates_a_multi_gpu_machine_on_the_cpu():
    """LABS_PRECISION and LABS_REPLICAS give the profile setup(cpu_devices=2, policy=...) gives, and say so."""
    p = _profile(env={"LABS_PRECISION": "mixed_float16", "LABS_REPLICAS": "2"})
    assert p["kind"] == "multi-cpu" and p["replicas"] == 2 and p["strategy"] == "MirroredStrategy"
    assert p["policy"] == "mixed_float16" and p["batch"] == 2 * 64
    assert "precision mixed_float16 from LABS_PRECISION" in p["report"]
    assert "2 logical CPU devices from LABS_REPLICAS" in p["report"]
    same = _profile("cpu_devices=2, policy='mixed_float16'")
    assert {k: same[k] for k in ("kind", "replicas", "policy", "batch")} == {
        k: p[k] for k in ("kind", "replicas", "policy", "batch")}


def test_return_freed_memory_fixes_glibc_threshold_unless_the_environment_chose(monkeypatch):
    import platform

    from labs_lib import device

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert device.return_freed_memory() is glibc
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert device.return_freed_memory() is False
