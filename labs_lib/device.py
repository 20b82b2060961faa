"""The GPU-aware part: find the devices, choose a distribution strategy and a precision policy.

Call :func:`setup` once, near the top of a notebook, before any model is built::

    profile = device.setup()
    print(profile.report())

It finds the CPU and GPUs, turns on memory growth for every GPU (so TensorFlow does not grab all
GPU memory at start), picks a ``tf.distribute`` strategy (default on CPU, one-device on one GPU,
``MirroredStrategy`` on several, ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes a
cluster), sets the Keras mixed-precision policy and recommends a batch size.
The model builders in :mod:`labs_lib.models` build inside ``profile.strategy``.

Under ``MultiWorkerMirroredStrategy``, Keras 3.15's ``model.fit`` fails when it builds the model
("Attempt to convert a value (PerReplica...)"); train with a custom loop and ``strategy.run``, as
lesson 13 does.

Device layout (memory growth, logical CPU devices, hidden GPUs) can only change before TensorFlow
starts its runtime, so :func:`setup` must run before the first tensor is created; a second call
with the same arguments returns the same profile.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

CPU = "cpu"
ONE_GPU = "gpu"
MULTI_GPU = "multi-gpu"
MULTI_CPU = "multi-cpu"  # the CPU split into logical devices, to exercise the multi-device path
MULTI_WORKER = "multi-worker"

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
CPU_BATCH_SIZE = 64  # per replica: small enough for a laptop's cache, large enough to amortise overhead
GPU_BATCH_SIZE = 256  # per replica: keeps a GPU busy for the course's small models


@dataclass
class DeviceProfile:
    """What :func:`setup` found and chose."""

    kind: str  # one of CPU, ONE_GPU, MULTI_GPU, MULTI_CPU, MULTI_WORKER
    devices: list[str]  # logical devices used for computation, e.g. ['/device:GPU:0']
    gpu_names: list[str]  # human-readable GPU names ('NVIDIA H100 80GB HBM3'); empty on CPU
    strategy: Any  # a tf.distribute.Strategy; build and compile models in strategy.scope()
    policy: str  # the Keras mixed-precision policy in force
    batch_size: int  # recommended global batch size (per-replica size x replicas)
    num_replicas: int = 1  # copies of the model that train in step
    memory_growth: bool = False  # whether memory growth was turned on for the GPUs
    notes: list[str] = field(default_factory=list)  # anything worth saying (overrides, fallbacks)

    def report(self) -> str:
        """One line for the notebook's setup cell."""
        where = ", ".join(self.gpu_names) if self.gpu_names else f"{len(self.devices)} CPU device(s)"
        text = (
            f"device: {self.kind.upper()} ({where}) | strategy: {type(self.strategy).__name__} with "
            f"{self.num_replicas} replica(s) | precision: {self.policy} | batch size: {self.batch_size}"
        )
        if self.notes:
            text += " | " + "; ".join(self.notes)
        return text

    def scope(self):
        """``with profile.scope():`` builds variables under this profile's strategy."""
        return self.strategy.scope()


_current: DeviceProfile | None = None
_current_args: tuple | None = None


def _cluster_workers(tf_config: str | None) -> int:
    """Number of workers that ``TF_CONFIG`` describes (0 when unset or not a cluster)."""
    if not tf_config:
        return 0
    try:
        cluster = json.loads(tf_config).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); fix or unset it") from error
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _gpu_supports_float16(details: dict) -> bool:
    """Tensor cores (compute capability 7.0 or newer) make float16 matrix work fast."""
    capability = details.get("compute_capability")
    return bool(capability) and tuple(capability) >= (7, 0)


def setup(
    force_cpu: bool = False,
    policy: str | None = None,
    cpu_devices: int | None = None,
    batch_size_per_replica: int | None = None,
    allow_tf32: bool = False,
) -> DeviceProfile:
    """Detect devices and configure TensorFlow; returns a :class:`DeviceProfile`.

    Args:
        force_cpu: hide all GPUs (for comparisons, or when a GPU is busy).
        policy: force a Keras precision policy ('float32', 'mixed_float16', 'mixed_bfloat16');
            by default ``mixed_float16`` on GPUs with tensor cores, ``float32`` otherwise.
        cpu_devices: split the CPU into this many logical devices and use ``MirroredStrategy``
            over them, so the multi-device path runs (and can be taught) on a laptop.
        batch_size_per_replica: override the recommended per-replica batch size.
        allow_tf32: let float32 matrix products use TensorFloat-32 on Ampere and newer GPUs. Off by default:
            TF32 keeps only 10 bits of mantissa, which breaks the lessons' float32 checks of from-scratch code
            against TensorFlow; mixed precision is the course's way to go fast.
    """
    global _current, _current_args
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if cpu_devices is not None and (not isinstance(cpu_devices, int) or cpu_devices < 1):
        raise ValueError(f"cpu_devices must be a positive integer, got {cpu_devices!r}")
    if batch_size_per_replica is not None and batch_size_per_replica < 1:
        raise ValueError(f"batch_size_per_replica must be >= 1, got {batch_size_per_replica}")

    args = (force_cpu, policy, cpu_devices, batch_size_per_replica, allow_tf32, os.environ.get("TF_CONFIG"))
    if _current is not None and args == _current_args:
        return _current

    import keras
    import tensorflow as tf

    notes: list[str] = []
    try:
        if force_cpu:
            tf.config.set_visible_devices([], "GPU")
            notes.append("GPUs hidden (force_cpu)")
        gpus = tf.config.get_visible_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if cpu_devices and cpu_devices > 1:
            cpus = tf.config.list_physical_devices("CPU")
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
            )
    except RuntimeError as error:
        # TensorFlow's runtime is already running: the device layout can no longer change.
        if _current is not None:
            raise RuntimeError(
                "the device layout was already set by an earlier device.setup() call in this process "
                f"({_current.report()}); restart the kernel to change it"
            ) from error
        raise RuntimeError(
            "device.setup() must run before TensorFlow creates its first tensor (it was: " f"{error}). "
            "Move device.setup() to the top of the notebook and restart the kernel."
        ) from error

    tf.config.experimental.enable_tensor_float_32_execution(allow_tf32)
    gpus = tf.config.get_visible_devices("GPU")
    gpu_names = []
    float16_ok = bool(gpus)
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        gpu_names.append(details.get("device_name", gpu.name))
        float16_ok = float16_ok and _gpu_supports_float16(details)

    if cpu_devices and cpu_devices > 1 and gpus:
        notes.append(f"cpu_devices={cpu_devices} ignored: GPUs found (pass force_cpu=True to split the CPU)")
    if gpus and not allow_tf32:
        notes.append("TF32 off (exact float32 checks)")
    workers = _cluster_workers(os.environ.get("TF_CONFIG"))
    if workers > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        kind = MULTI_WORKER
        devices = list(strategy.extended.worker_devices)  # this worker's own devices, not the cluster's
        notes.append(f"{workers} workers from TF_CONFIG")
    elif len(gpus) > 1:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        kind = MULTI_GPU
    elif len(gpus) == 1:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        strategy = tf.distribute.OneDeviceStrategy(devices[0])
        kind = ONE_GPU
    elif cpu_devices and cpu_devices > 1:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        # On CPUs there is no NCCL; reduce gradients on one device.
        strategy = tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice(reduce_to_device=devices[0])
        )
        kind = MULTI_CPU
    else:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.get_strategy()
        kind = CPU

    if policy is None:
        policy = "mixed_float16" if float16_ok else "float32"
    elif policy != "float32" and not gpus:
        notes.append(f"{policy} forced on CPU: expect it to be slower, not faster")
    keras.mixed_precision.set_global_policy(policy)

    per_replica = batch_size_per_replica or (GPU_BATCH_SIZE if gpus else CPU_BATCH_SIZE)
    replicas = int(strategy.num_replicas_in_sync)
    _current = DeviceProfile(
        kind=kind,
        devices=devices,
        gpu_names=gpu_names,
        strategy=strategy,
        policy=policy,
        batch_size=per_replica * replicas,
        num_replicas=replicas,
        memory_growth=bool(gpus),
        notes=notes,
    )
    _current_args = args
    return _current


def current_profile() -> DeviceProfile:
    """The profile from the last :func:`setup` call, or a default one made now."""
    return _current if _current is not None else setup()
