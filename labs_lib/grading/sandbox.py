"""Isolation of the kernel that runs a student's code: what it can see, write, reach and use.

The grader starts every kernel through this module (``python -m labs_lib.grading.sandbox POLICY -- ARGS``).
Before the kernel runs a single line of a submission, the wrapper applies a :class:`SandboxPolicy`:

``namespace`` (Linux with unprivileged user namespaces; chosen automatically when available)
    The kernel gets its own user, mount, PID, network and IPC namespaces. Its root file system is
    rebuilt from an empty ``tmpfs``: only the directories Python needs (the system libraries, the
    interpreter, site-packages, the ``labs_lib`` package folder, the data cache) are bound into it,
    read-only; ``/tmp`` and ``/dev/shm`` are small private ``tmpfs``; the kernel's own home
    directory and its socket folder are the only writable host paths. The old root is detached
    (``pivot_root``), so nothing else on the machine (other submissions, the source notebook with
    the hidden tests, the gradebook, the course's git history, the instructor's home) exists for
    the kernel. It then drops to an unprivileged user in a nested user namespace, so it cannot
    undo the mounts. There is no network (an empty network namespace; the grader talks to the
    kernel over Unix sockets), and the kernel sees only its own processes. It cannot make user
    namespaces of its own (the namespace above allows exactly the one nested namespace), and
    ``NO_NEW_PRIVS`` is set, so no set-user-ID program or file capability raises its privileges.

``audit`` (everywhere else: macOS, containers without user namespaces)
    A Python audit hook (:pep:`578`, cannot be removed once installed) refuses to open files for
    writing outside the kernel's home, to open or list the hidden paths, to start programs and
    to open network connections. This only covers what goes through Python's own I/O: C code
    (TensorFlow's ``tf.io``, ``ctypes``) can bypass it. The README says so.

Both modes set ``NO_NEW_PRIVS`` and resource limits (open files, file size, core dumps, the data segment), ignore
``SIGXFSZ`` (a too-large write fails with an error instead of killing the kernel), refuse new
audit hooks, and run the kernel with the environment the runner built (see
:func:`scrubbed_environment`). The runner adds a watchdog on the resident memory of the whole
process tree, which is what actually bounds memory (TensorFlow reserves far more address space
than it uses, so ``RLIMIT_AS`` would break it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import platform
import runpy
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

MODES = ("namespace", "audit")

# Linux constants (sched.h, sys/mount.h, sys/prctl.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME = 32, 1024, 2048
MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522
# pivot_root has no libc wrapper; its syscall number depends on the architecture.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

SANDBOX_UID = 1000  # the unprivileged user the kernel runs as inside the namespaces
SANDBOX_USER = "student"

# Host paths that every kernel may read in namespace mode (when they exist).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
             "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/fonts",
             "/etc/mime.types", "/etc/os-release")
DEVICES = ("null", "zero", "full", "random", "urandom")


@dataclass
class SandboxPolicy:
    """What one kernel may do. Serialised to JSON on the wrapper's command line."""

    mode: str = "audit"  # "namespace" or "audit" (see the module docstring)
    home: str = ""  # the kernel's working directory, HOME and TMPDIR: the one place it may write
    writable: list[str] = field(default_factory=list)  # other writable host folders (the socket folder)
    readonly: list[str] = field(default_factory=list)  # namespace mode: host paths bound read-only
    hidden: list[str] = field(default_factory=list)  # audit mode: paths the kernel may not open or list
    file_size_mb: int = 512  # largest file the kernel may write
    data_mb: int = 0  # RLIMIT_DATA (heap and private mappings); 0 = no limit, the runner's watchdog still applies
    open_files: int = 1024  # RLIMIT_NOFILE
    tmpfs_mb: int = 64  # size of the private /tmp and /dev/shm in namespace mode

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        return cls(**json.loads(text))


# ---------------------------------------------------------------------------------------------------
# What this machine supports


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


@lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """True when this machine lets an unprivileged process build the ``namespace`` sandbox.

    Tried for real, once per process: a child process enters the namespaces, mounts a tmpfs and
    pivots into it. Containers with a seccomp filter, or kernels with user namespaces turned off,
    answer False.
    """
    if sys.platform != "linux" or platform.machine() not in SYS_PIVOT_ROOT:
        return False
    code = "import sys; from labs_lib.grading import sandbox; sys.exit(sandbox._probe())"
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30,
                                env={**os.environ, "PYTHONPATH": _package_root()})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _probe() -> int:
    """Enter the namespaces in a forked child and pivot into an empty tmpfs (used by :func:`namespaces_available`)."""
    import tempfile

    scratch = tempfile.mkdtemp(prefix="labs-probe-")
    try:
        policy = SandboxPolicy(mode="namespace", home=scratch, readonly=[], tmpfs_mb=1)
        pid = os.fork()
        if pid == 0:  # the child: succeed only if every step works
            try:
                _enter_namespaces(policy, probe=True)
                os._exit(0)
            except BaseException:  # noqa: BLE001 - any failure means "not available"
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        return 0 if os.waitstatus_to_exitcode(status) == 0 else 1
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def choose_mode(requested: str = "auto") -> str:
    """Resolve ``auto`` to the strongest mode available; refuse ``namespace`` where it does not work."""
    if requested == "auto":
        return "namespace" if namespaces_available() else "audit"
    if requested not in MODES:
        raise ValueError(f"isolation must be auto, namespace or audit, got {requested!r}")
    if requested == "namespace" and not namespaces_available():
        raise RuntimeError(
            "isolation 'namespace' needs Linux with unprivileged user namespaces (unshare -Urm), "
            "which this machine does not allow; use --isolation audit or run the grader in a VM/container that allows them"
        )
    return requested


def make_undumpable() -> None:
    """Forbid other processes of the same user (a student's kernel) to read this process's memory,
    environment, open files or root through ``/proc`` (Linux ``PR_SET_DUMPABLE``)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# ---------------------------------------------------------------------------------------------------
# The kernel's environment and visible files


def scrubbed_environment(home: str, threads: int = 1, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The only environment variables a grading kernel sees: nothing of the instructor's (tokens, keys,
    paths), a private HOME/TMPDIR, offline data access, quiet TensorFlow, CPU only, ``threads`` threads."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.local/share/jupyter/runtime",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "KERAS_HOME": f"{home}/.keras",
        "LABS_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(min(threads, 2)),
    }
    import labs_lib  # the kernel imports labs_lib even when it is not installed (run from a checkout)

    env["PYTHONPATH"] = str(Path(next(iter(labs_lib.__path__))).resolve().parent)
    for name in ("LD_LIBRARY_PATH", "TZ", "LABS_DATA_DIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(extra or {})
    return env


def readonly_paths(extra: list[str] | None = None) -> list[str]:
    """Host paths a namespace-mode kernel needs to read: system libraries, this Python, its
    site-packages and the ``labs_lib`` package folder (not the repository around it)."""
    import site
    import sysconfig

    import labs_lib

    paths = set(SYSTEM_PATHS) | set(ETC_FILES)
    paths |= {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            paths.add(sysconfig.get_paths()[key])
    paths |= set(site.getsitepackages())
    paths |= {str(Path(p).resolve()) for p in labs_lib.__path__}
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    for entry in sys.path:  # zip files and folders of the interpreter, never the working directory
        if entry and entry.startswith(prefixes):
            paths.add(entry)
    paths |= set(extra or [])
    kept: list[str] = []
    for path in sorted(p for p in paths if p and os.path.lexists(p)):
        if not any(path.startswith(k.rstrip("/") + "/") and not os.path.islink(k) for k in kept):
            kept.append(path)  # an entry inside a folder already bound comes with it
    return kept


# ---------------------------------------------------------------------------------------------------
# Namespace mode (Linux)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _locked_flags(path: str) -> int:
    """Mount flags a user namespace may not clear when it remounts ``path`` read-only."""
    st = os.statvfs(path)
    flags = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                             (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                             (os.ST_RELATIME, MS_RELATIME)):
        if st.f_flag & st_flag:
            flags |= ms_flag
    return flags


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4].replace("\\040", " ") for line in f]


def _bind(libc, source: str, target: str, writable: bool) -> None:
    """Bind ``source`` (a file or a folder) at ``target``; read-only unless ``writable``, submounts too."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    before = set(_mount_points())
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    if writable:
        return
    for point in _mount_points():  # the new mount and the submounts that came with it
        if point not in before or point == target:
            _mount(libc, None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(point))


def _copy_symlink_or_bind(libc, path: str, root: str, writable: bool = False) -> None:
    target = root + path
    if os.path.islink(path):  # e.g. /lib64 -> usr/lib64 on merged-/usr systems: the same link
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        real = os.path.realpath(path)
        if os.path.exists(real) and not os.path.lexists(root + real):
            _bind(libc, real, root + real, writable)
        return
    if os.path.exists(target) and os.path.ismount(target):
        return
    _bind(libc, path, target, writable)


def _drop_capabilities(libc) -> None:
    """Empty this process's capability sets: the bounding set (what exec could grant), then effective,
    permitted and inheritable (``capset``, version 3: two 32-bit words per set); ambient ones go with them."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"prctl(PR_CAPBSET_DROP, {cap})")  # EINVAL: no such capability on this kernel

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    _check(libc.capset(ctypes.byref(Header(LINUX_CAPABILITY_VERSION_3, 0)), (Data * 2)()), "capset")


def _enter_namespaces(policy: SandboxPolicy, probe: bool = False) -> None:
    """Enter new user/mount/PID/network/IPC namespaces, rebuild the root file system, drop privileges.

    Forks once (a new PID namespace applies to children): the parent waits for the kernel and
    exits with its status; only the child returns from this function, as PID 1 of its namespace.
    """
    import fcntl  # noqa: F401 - imported before pivot_root: the probe's new root has no standard library
    import socket  # noqa: F401
    import struct  # noqa: F401

    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    _check(libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    parent = os.getppid()
    pid = os.fork()
    if pid:  # the parent stays outside the new PID namespace and only relays the exit status
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are meant for the kernel (same group)
        signal.signal(STACKS_SIGNAL, signal.SIG_IGN)  # so is the request for the kernel's stacks
        signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
        while True:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                os._exit(1)
            if done:
                break
            if os.getppid() != parent:  # the grader died without stopping us: take the kernel down
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    root = os.path.join(policy.home, "root") if probe else policy.home + ".root"  # the new root, beside home
    os.makedirs(root, exist_ok=True)
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    tmpfs = f"size={policy.tmpfs_mb}m,mode=1777"
    for private in ("/tmp", "/dev/shm"):
        os.makedirs(root + private, exist_ok=True)
        _mount(libc, "tmpfs", root + private, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
    for device in DEVICES:
        _bind(libc, f"/dev/{device}", f"{root}/dev/{device}", writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for path in sorted(policy.readonly, key=lambda p: (os.path.islink(p), p)):  # folders first, then links
        _copy_symlink_or_bind(libc, path, root)
    if os.path.isdir("/sys"):
        os.makedirs(root + "/sys", exist_ok=True)
        with contextlib.suppress(OSError):  # CPU topology for TensorFlow; optional
            _mount(libc, "/sys", root + "/sys", None, MS_BIND)
            _mount(libc, None, root + "/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags("/sys"))
    for path in [policy.home, *policy.writable]:
        _bind(libc, path, root + path, writable=True)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount(libc, "proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/.old-root", exist_ok=True)
    _check(libc.syscall(SYS_PIVOT_ROOT[platform.machine()], root.encode(), (root + "/.old-root").encode()),
           "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.old-root", MNT_DETACH), "umount old root")
    os.rmdir("/.old-root")
    _mount(libc, None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _loopback_up()
    # This namespace may hold one user namespace below it: the nested one made next. A kernel that tries to
    # make another (unshare or clone with CLONE_NEWUSER, to be "root" again in it and reach the kernel code
    # that only such a root can, a frequent source of privilege escalations) gets ENOSPC. The limit is this
    # namespace's own copy of the sysctl (Linux 4.9+) and counts every namespace below it.
    _write("/proc/sys/user/max_user_namespaces", "1")
    # A nested user namespace, as an ordinary user. The process that makes a user namespace holds every
    # capability in it, and setresuid to the user it already is keeps them, so they are dropped explicitly
    # (bounding set, then effective, permitted and inheritable): none left to make mount namespaces or change
    # the mounts above (those are locked into the namespace that created them anyway), none to regain on exec.
    _check(libc.unshare(CLONE_NEWUSER), "unshare (nested)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{SANDBOX_UID} 0 1")
    _write("/proc/self/gid_map", f"{SANDBOX_UID} 0 1")
    os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    _drop_capabilities(libc)
    # No program the kernel starts gains privileges on exec (set-user-ID bits and file capabilities are ignored).
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


# ---------------------------------------------------------------------------------------------------
# Audit hooks and resource limits (both modes)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.utime",
                "os.chflags", "os.lchflags", "shutil.rmtree", "os.setxattr", "os.removexattr"}
_TWO_PATH_EVENTS = {"os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copytree", "shutil.move"}
_LIST_EVENTS = {"os.listdir", "os.scandir", "glob.glob"}
_SPAWN_EVENTS = {"os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn",
                 "os.startfile"}
POLICY_ENV = "LABS_SANDBOX_POLICY"  # audit mode: the policy, for Python programs the kernel starts
SITE_DIR = str(Path(__file__).resolve().parent / "_site")  # holds the sitecustomize that applies it to them
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "", None}


def _audit_hook(policy: SandboxPolicy):
    """The hook for ``sys.addaudithook``: refuses what the policy forbids by raising ``PermissionError``."""
    writable = [os.path.realpath(p) for p in [policy.home, *policy.writable]] + ["/dev/null"]
    hidden = [os.path.realpath(p) for p in policy.hidden]
    audit_mode = policy.mode == "audit"
    own_proc = {"self", "thread-self", str(os.getpid())}
    local = threading.local()

    def resolve(raw) -> str | None:
        if isinstance(raw, int) or raw is None:
            return None
        try:
            return os.path.realpath(os.fsdecode(raw))
        except (TypeError, ValueError):
            return None

    def may_read(path: str | None) -> bool:
        if path is None or _is_under(path, writable):
            return True
        if _is_under(path, hidden):
            return False
        parts = path.split("/")
        return not (len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] not in own_proc)

    def may_write(path: str | None) -> bool:
        return path is None or _is_under(path, writable)

    python = os.path.realpath(sys.executable)

    def python_child(event: str, args: tuple) -> bool:
        """A Python program that inherits the policy (its sitecustomize installs this same hook)."""
        if event == "subprocess.Popen":
            executable, argv, env = args[0], args[1], args[3]
        elif event in ("os.posix_spawn", "os.exec"):
            executable, argv, env = args[0], args[1], args[2]
        else:
            return False
        program = executable or (argv[0] if isinstance(argv, (list, tuple)) and argv else argv)
        if not isinstance(program, (str, bytes, os.PathLike)):
            return False
        resolved = resolve(program)
        env = os.environ if env is None else {os.fsdecode(k): os.fsdecode(v) for k, v in dict(env).items()}
        return resolved == python and env.get(POLICY_ENV) is not None and SITE_DIR in env.get("PYTHONPATH", "")

    def hook(event: str, args: tuple) -> None:
        if event == "sys.addaudithook":
            raise RuntimeError("the grader does not allow new audit hooks")
        if not audit_mode or getattr(local, "busy", False):
            return
        local.busy = True
        try:
            if event == "open":
                path, mode, flags = resolve(args[0]), args[1], args[2]
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                    isinstance(flags, int) and flags & _WRITE_FLAGS)
                if writing and not may_write(path):
                    raise PermissionError(f"the grader does not allow writing to {path}: write in your own folder")
                if not may_read(path):
                    raise PermissionError(f"the grader does not allow reading {path}")
            elif event in _PATH_EVENTS and not may_write(resolve(args[0])):
                raise PermissionError(f"{event} outside your own folder is not allowed while grading")
            elif event in _TWO_PATH_EVENTS and not (may_write(resolve(args[1])) and may_read(resolve(args[0]))):
                raise PermissionError(f"{event} outside your own folder is not allowed while grading")
            elif event in _LIST_EVENTS and not may_read(resolve(args[0]) if args else None):
                raise PermissionError(f"the grader does not allow listing {args[0]}")
            elif event in _SPAWN_EVENTS and not python_child(event, args):
                raise PermissionError("starting programs other than Python is not allowed while grading")
            elif event in ("socket.connect", "socket.sendto") and len(args) > 1:
                address = args[1]
                host = address[0] if isinstance(address, tuple) else None
                if isinstance(address, tuple) and host not in _LOCAL_HOSTS:
                    raise PermissionError("the network is not available while grading")
            elif event in ("socket.getaddrinfo", "socket.gethostbyname") and args and args[0] not in _LOCAL_HOSTS:
                raise PermissionError("the network is not available while grading")
        finally:
            local.busy = False

    return hook


STACKS_SIGNAL = signal.SIGUSR2  # asks a sandboxed kernel to write its threads' stacks to its log
_KEEP: list = []  # the log file faulthandler writes to must outlive run()


def set_limits(policy: SandboxPolicy) -> None:
    """Resource limits for the kernel process (inherited by anything it starts)."""
    import resource

    def cap(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NOFILE, policy.open_files)
    cap(resource.RLIMIT_FSIZE, policy.file_size_mb * 2**20)
    if policy.data_mb and hasattr(resource, "RLIMIT_DATA"):
        cap(resource.RLIMIT_DATA, policy.data_mb * 2**20)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises OSError(EFBIG) instead


def child_startup() -> None:
    """Apply the policy from the environment to a Python program a grading kernel started (audit mode)."""
    policy = SandboxPolicy.from_json(os.environ[POLICY_ENV])
    set_limits(policy)
    sys.addaudithook(_audit_hook(policy))


def _loopback_up() -> None:
    """Bring up ``lo`` in the new network namespace (lessons may use 127.0.0.1; nothing else exists)."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, struct.pack("16sh", b"lo", 0)))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _die_with_parent() -> None:
    """Audit mode: stop this kernel and what it started when the process that launched it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                with contextlib.suppress(OSError):
                    os.killpg(0, signal.SIGKILL)
                os._exit(1)

    threading.Thread(target=watch, name="labs-sandbox-parent-watch", daemon=True).start()


def _dump_stacks_on_request() -> None:
    """On :data:`STACKS_SIGNAL`, write every thread's Python stack to the kernel log (the original stderr).

    The grader sends it to a kernel that ignored an interrupt, just before stopping it, so the log says where the
    kernel was stuck. faulthandler writes from its C signal handler, without the GIL, so a kernel whose main thread
    is blocked inside a C call still answers; a duplicate of fd 2 is used because ipykernel later redirects fd 2.
    """
    import faulthandler

    log = os.fdopen(os.dup(2), "w", buffering=1)
    faulthandler.register(STACKS_SIGNAL, file=log, all_threads=True)
    _KEEP.append(log)


def run(policy: SandboxPolicy, argv: list[str]) -> None:
    """Apply ``policy`` to this process, then run ``argv`` (``-m module args...`` or ``script args...``) in it."""
    _dump_stacks_on_request()
    if policy.mode == "namespace":
        _enter_namespaces(policy)
    else:
        _die_with_parent()
        if sys.platform == "linux":  # no privileges gained on exec (set-user-ID programs); kept by every child
            with contextlib.suppress(OSError, AttributeError):
                _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    set_limits(policy)
    if policy.mode == "audit":  # Python programs the kernel starts apply the same policy to themselves
        os.environ[POLICY_ENV] = policy.to_json()
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SITE_DIR, os.environ.get("PYTHONPATH")) if p)
    os.chdir(policy.home)
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != os.path.realpath(policy.home)]
    sys.addaudithook(_audit_hook(policy))
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


def main(argv: list[str] | None = None) -> None:
    """``python -m labs_lib.grading.sandbox POLICY_JSON -- -m ipykernel_launcher -f CONNECTION_FILE``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m labs_lib.grading.sandbox POLICY_JSON -- (-m MODULE | SCRIPT) [ARGS...]")
    run(SandboxPolicy.from_json(argv[0]), argv[2:])


if __name__ == "__main__":
    main()
