"""The GPU-aware part: find the devices, choose a distribution strategy and a precision policy.

Call :func:`setup` once, near the top of a notebook, before any model is built::

    profile = device.setup()
    print(profile.report())

It finds the CPU and GPUs, turns on memory growth for every GPU (so TensorFlow does not grab all
GPU memory at start), picks a ``tf.distribute`` strategy (default on CPU, one-device on one GPU,
``MirroredStrategy`` on several, ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes a
cluster), sets the Keras mixed-precision policy (``mixed_bfloat16`` on GPUs of compute capability 8.0 and
newer, ``mixed_float16`` on older tensor-core GPUs, 7.x; ``float32`` otherwise) and recommends a batch size.
The model builders in :mod:`labs_lib.models` build inside ``profile.strategy``.

Two environment variables simulate a GPU machine's settings on a laptop, so that what a GPU would run can be
tested without one (``make test-gpu-shape``): ``LABS_PRECISION`` (``float32``, ``mixed_float16`` or
``mixed_bfloat16``) replaces the policy :func:`setup` would choose, and ``LABS_REPLICAS=N`` splits the CPU
into N logical devices under ``MirroredStrategy``, as ``setup(cpu_devices=N)`` does. Arguments passed to
:func:`setup` win over them (as they would on a GPU), and the report says which setting came from where.

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
PRECISION_ENV = "LABS_PRECISION"  # forces the policy setup() would choose: one of POLICIES
REPLICAS_ENV = "LABS_REPLICAS"  # N logical CPU devices under MirroredStrategy, as setup(cpu_devices=N)
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


def even_first_batch(batch_size: int, num_examples: int, replicas: int) -> int:
    """``batch_size``, or the largest smaller one whose first batch of ``num_examples`` splits over ``replicas``.

    Keras splits the first batch of a ``fit``, ``evaluate`` or ``predict`` call over the replicas while it
    builds the model and needs equal parts. The examples left over go into later batches, so none is dropped:
    ``even_first_batch(256, 93, 2)`` is 92 (batches of 92 and 1).
    """
    first = min(batch_size, num_examples)
    if replicas == 1 or first % replicas == 0 or first < replicas:
        return batch_size
    return first - first % replicas


def replicas_in_use() -> int:
    """Replicas of the profile :func:`setup` made, 1 before any call (never starts TensorFlow itself)."""
    return _current.num_replicas if _current is not None else 1


def _cluster_workers(tf_config: str | None) -> int:
    """Number of workers that ``TF_CONFIG`` describes (0 when unset or not a cluster)."""
    if not tf_config:
        return 0
    try:
        cluster = json.loads(tf_config).get("cluster", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); fix or unset it") from error
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def gpu_policy(details: dict) -> str:
    """The precision policy one GPU runs fastest with, from its ``tf.config.experimental.get_device_details``.

    Compute capability 8.0 and newer (Ampere, Hopper, ...) have bfloat16 tensor cores: ``mixed_bfloat16``
    keeps float32's exponent range, so it needs no loss scaling. 7.x (Volta, Turing) have float16 tensor
    cores only: ``mixed_float16``, with the loss scaling Keras adds in ``compile``. Older GPUs: ``float32``.
    """
    capability = details.get("compute_capability")
    if not capability:
        return "float32"
    if tuple(capability) >= (8, 0):
        return "mixed_bfloat16"
    if tuple(capability) >= (7, 0):
        return "mixed_float16"
    return "float32"


def choose_policy(gpu_details: list[dict]) -> str:
    """The policy for a machine with these GPUs: the one every GPU supports (the oldest GPU decides)."""
    if not gpu_details:
        return "float32"
    order = ("float32", "mixed_float16", "mixed_bfloat16")  # each one needs more of the hardware
    return min((gpu_policy(details) for details in gpu_details), key=order.index)


def _env_policy() -> str | None:
    """``LABS_PRECISION``, checked; None when unset or empty."""
    value = os.environ.get(PRECISION_ENV, "").strip()
    if not value:
        return None
    if value not in POLICIES:
        raise ValueError(
            f"{PRECISION_ENV} must be one of {', '.join(POLICIES)}, got {value!r} "
            f"(e.g. {PRECISION_ENV}=mixed_float16; unset it to let device.setup() choose)"
        )
    return value


def _env_replicas() -> int | None:
    """``LABS_REPLICAS``, checked; None when unset or empty."""
    value = os.environ.get(REPLICAS_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{REPLICAS_ENV} must be a positive integer, the number of logical CPU devices to train on "
            f"(e.g. {REPLICAS_ENV}=2), got {value!r}; unset it for one device"
        )
    return int(value)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value


def return_freed_memory(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """On glibc (Linux), keep allocations above ``threshold`` bytes in their own pages, freed at once.

    glibc starts with this threshold but raises it each time a large block is freed (up to 32 MB), so the
    arrays and tensors of a lesson's later experiments come from the heap, and the heap does not give memory
    back: a kernel's resident memory then creeps up run after run, and a 2 GB Binder kernel can die although
    what is alive is far less. Fixing the threshold (as ``MALLOC_MMAP_THRESHOLD_`` would) stops that; lesson
    04's full run peaks about 70 MB lower. Returns whether it was set: False off glibc, or when the
    environment already sets ``MALLOC_MMAP_THRESHOLD_`` (your choice wins).
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


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
            by default ``LABS_PRECISION`` when set, else the GPUs' best (see :func:`choose_policy`):
            ``mixed_bfloat16`` from compute capability 8.0, ``mixed_float16`` on 7.x, ``float32`` otherwise.
        cpu_devices: split the CPU into this many logical devices and use ``MirroredStrategy``
            over them, so the multi-device path runs (and can be taught) on a laptop; by default
            ``LABS_REPLICAS`` when set, else one device.
        batch_size_per_replica: override the recommended per-replica batch size.
        allow_tf32: let float32 matrix products use TensorFloat-32 on Ampere and newer GPUs. Off by default:
            TF32 keeps only 10 bits of mantissa, which breaks the lessons' float32 checks of from-scratch code
            against TensorFlow; mixed precision is the course's way to go fast.
    """
    global _current, _current_args
    return_freed_memory()
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if cpu_devices is not None and (not isinstance(cpu_devices, int) or cpu_devices < 1):
        raise ValueError(f"cpu_devices must be a positive integer, got {cpu_devices!r}")
    if batch_size_per_replica is not None and batch_size_per_replica < 1:
        raise ValueError(f"batch_size_per_replica must be >= 1, got {batch_size_per_replica}")

    # The environment simulates a GPU machine's choices; an argument passed here wins over it.
    env_policy, env_replicas = _env_policy(), _env_replicas()
    notes: list[str] = []
    if env_policy is not None:
        if policy is None:
            policy = env_policy
            notes.append(f"precision {policy} from {PRECISION_ENV}")
        elif policy != env_policy:
            notes.append(f"{PRECISION_ENV}={env_policy} ignored: policy={policy!r} passed to setup()")
    replicas_from_env = env_replicas is not None and cpu_devices is None
    if replicas_from_env:
        cpu_devices = env_replicas
    elif env_replicas is not None and cpu_devices != env_replicas:
        notes.append(f"{REPLICAS_ENV}={env_replicas} ignored: cpu_devices={cpu_devices} passed to setup()")

    args = (force_cpu, policy, cpu_devices, batch_size_per_replica, allow_tf32, os.environ.get("TF_CONFIG"))
    if _current is not None and args == _current_args:
        return _current

    import keras
    import tensorflow as tf

    try:
        if force_cpu:
            tf.config.set_visible_devices([], "GPU")
            notes.append("GPUs hidden (force_cpu)")
        gpus = tf.config.get_visible_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if cpu_devices and cpu_devices > 1 and not gpus:  # with GPUs the CPU is not split (noted below)
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
    gpu_details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
    gpu_names = [details.get("device_name", gpu.name) for gpu, details in zip(gpus, gpu_details, strict=True)]

    asked = f"{REPLICAS_ENV}={cpu_devices}" if replicas_from_env else f"cpu_devices={cpu_devices}"
    if cpu_devices and cpu_devices > 1 and gpus:
        notes.append(f"{asked} ignored: GPUs found (pass force_cpu=True to split the CPU)")
    if gpus and not allow_tf32:
        notes.append("TF32 off (exact float32 checks)")
    workers = _cluster_workers(os.environ.get("TF_CONFIG"))
    if workers > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        kind = MULTI_WORKER
        devices = list(strategy.extended.worker_devices)  # this worker's own devices, not the cluster's
        notes.append(f"{workers} workers from TF_CONFIG")
        if cpu_devices and cpu_devices > 1 and not gpus:
            notes.append(f"{asked} ignored: TF_CONFIG describes a cluster, whose CPU workers have one device each")
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
        if replicas_from_env:
            notes.append(f"{cpu_devices} logical CPU devices from {REPLICAS_ENV}")
    else:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.get_strategy()
        kind = CPU

    if policy is None:
        policy = choose_policy(gpu_details)
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
