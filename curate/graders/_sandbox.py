"""Isolation of a grader worker with the operating system's unprivileged protections.

Runs inside the worker process, before any grader source arrives (stdlib only: the pool runs this
file and ``_worker.py`` as one program). Every protection is optional: each step reports what it
did, or why it could not (old kernel, not Linux, a container that forbids it), and never raises.

- **namespaces** (Linux): a new user, network and PID namespace. The network namespace has only a
  loopback device that is down, so no connection leaves the worker, not even to 127.0.0.1. The
  grading process is PID 1 of its PID namespace: killing it kills every process a grader forked.
- **landlock** (Linux >= 5.13): reads limited to the Python installation and system libraries,
  writes to the worker's own temp folder, no TCP (ABI >= 4), no signals to processes outside the
  sandbox (ABI >= 6).
- **seccomp** (Linux, x86_64 and aarch64): no new processes (threads are fine), no sockets but
  Unix sockets, no ptrace, io_uring, bpf or namespace changes.
- **rlimits**: address space (``memory_mb``), file size, no core files.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import struct
import sys

CLONE_THREAD = 0x00010000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
FILE_SIZE_LIMIT = 1 << 30  # 1 GB, the platform's disk allowance

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(result: int) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _prctl(option: int, arg: int = 0) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0))


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"


# -- namespaces -------------------------------------------------------------------------------------
def enter_namespaces() -> tuple[int, str]:
    """Unshare a user, network and PID namespace; ``(flags obtained, note)``.

    Tries with a user namespace first (unprivileged), then without (root in a container without
    user namespaces). The PID namespace takes effect for the next child (see ``fork_into``)."""
    if not sys.platform.startswith("linux"):
        return 0, "not Linux"
    uid, gid = os.getuid(), os.getgid()
    note = ""
    for flags in (
        CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID,
        CLONE_NEWNET | CLONE_NEWPID,
        CLONE_NEWUSER | CLONE_NEWNET,
        CLONE_NEWNET,
    ):
        try:
            _check(_libc().unshare(flags))
        except (OSError, AttributeError) as exc:
            note = note or _reason(exc)
            continue
        if flags & CLONE_NEWUSER:  # keep our own ids inside, so files in the temp folder work
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                               ("gid_map", f"{gid} {gid} 1")):
                try:
                    with open(f"/proc/self/{name}", "w") as handle:
                        handle.write(text)
                except OSError:
                    pass
        return flags, ""
    return 0, note or "unshare failed"


def set_subreaper() -> bool:
    """Orphaned descendants become our children (so they can be found and killed)."""
    try:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        return True
    except (OSError, AttributeError):
        return False


def die_with_parent() -> None:
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux /proc; empty elsewhere)."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(name))
    return found


def kill_descendants(rounds: int = 1000) -> None:
    """Kill and reap every descendant of this process, as a subreaper (orphans come back to us).
    Without /proc (or when it cannot be read) only zombies are reaped."""
    me = os.getpid()
    for _ in range(rounds):
        if not has_children():
            return
        children = child_pids(me)
        if not children:
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass


def has_children() -> bool:
    """Whether a child (running or a zombie) exists; reaps zombies."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if not pid:
            return True


def kill_namespace() -> None:
    """As PID 1 of a PID namespace: kill every other process in it and reap them all."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


# -- landlock -------------------------------------------------------------------------------------
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446  # same numbers on every architecture
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
SYSTEM_READ_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime",
                     "/sys/devices/system/cpu", "/dev/urandom", "/dev/random", "/dev/zero")


def landlock_abi() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    try:
        return max(0, _libc().syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))
    except (OSError, AttributeError):
        return 0


def python_read_paths() -> list[str]:
    """Where this Python's standard library and installed packages live."""
    paths = []
    for path in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        for p in (path, os.path.realpath(path)):
            if p and p not in paths:
                paths.append(p)
    return paths


def apply_landlock(read_paths: list[str], write_paths: list[str]) -> tuple[int, str]:
    """Restrict this process (and its future children) to the given paths; ``(abi, problem)``."""
    abi = landlock_abi()
    if abi < 1:
        return 0, "not Linux" if not sys.platform.startswith("linux") else "kernel without landlock"
    fs = (1 << 13) - 1
    fs |= (1 << 13) if abi >= 2 else 0  # REFER
    fs |= _FS_TRUNCATE if abi >= 3 else 0
    fs |= _FS_IOCTL_DEV if abi >= 5 else 0
    net = 3 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP, with no port allowed
    scoped = 3 if abi >= 6 else 0  # abstract Unix sockets and signals stay inside the sandbox
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    libc = _libc()
    buf = ctypes.create_string_buffer(attr, len(attr))
    try:
        ruleset = _check(libc.syscall(_LL_CREATE, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)))
    except OSError as exc:
        return abi, _reason(exc)
    try:
        rules = [(p, _READ) for p in read_paths] + [(p, fs) for p in write_paths]
        rules.append(("/dev/null", _FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE))
        for path, access in rules:
            try:
                fd = os.open(path, getattr(os, "O_PATH", 0x200000) | os.O_CLOEXEC)
            except OSError:
                continue  # a path this system does not have
            try:
                if not os.path.isdir(path):
                    access &= _FILE_RIGHTS
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access & fs, fd), 12)
                _check(libc.syscall(_LL_ADD_RULE, ruleset, 1, rule, 0))
            finally:
                os.close(fd)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(libc.syscall(_LL_RESTRICT, ruleset, 0))
    except OSError as exc:
        return abi, _reason(exc)
    finally:
        os.close(ruleset)
    return abi, ""


# -- seccomp --------------------------------------------------------------------------------------
# (audit arch, {name: syscall number}) per machine; fork and vfork exist only on x86_64.
_ARCHES = {
    "x86_64": (0xC000003E, {"socket": 41, "clone": 56, "fork": 57, "vfork": 58, "ptrace": 101,
                            "process_vm_readv": 310, "process_vm_writev": 311, "unshare": 272,
                            "setns": 308, "bpf": 321, "perf_event_open": 298, "clone3": 435,
                            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427}),
    "aarch64": (0xC00000B7, {"socket": 198, "clone": 220, "ptrace": 117, "process_vm_readv": 270,
                             "process_vm_writev": 271, "unshare": 97, "setns": 268, "bpf": 280,
                             "perf_event_open": 241, "clone3": 435, "io_uring_setup": 425,
                             "io_uring_enter": 426, "io_uring_register": 427}),
}
_DENIED = ("fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns",
           "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register")
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _EACCES, _ENOSYS = 1, 13, 38


def seccomp_program(machine: str) -> bytes | None:
    """The BPF filter for ``machine`` (None when unsupported), as ``sock_filter`` structs."""
    if machine not in _ARCHES:
        return None
    arch, nr = _ARCHES[machine]
    code: list[tuple[int, object, object, int]] = []  # (opcode, jump-true label, jump-false label, k)

    def op(opcode: int, k: int, jt: object = 0, jf: object = 0) -> None:
        code.append((opcode, jt, jf, k))

    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    op(ld, 4)  # seccomp_data.arch
    op(jeq, arch, 0, "enosys")
    op(ld, 0)  # seccomp_data.nr
    if machine == "x86_64":
        op(jge, 0x40000000, "enosys", 0)  # the x32 ABI
    for name in _DENIED:
        if name in nr:
            op(jeq, nr[name], "eperm", 0)
    op(jeq, nr["clone3"], "enosys", 0)  # its flags are in memory: make libc fall back to clone
    op(jeq, nr["clone"], "clone", 0)
    op(jeq, nr["socket"], "socket", 0)
    labels = {}
    op(ret, _RET_ALLOW)
    labels["clone"] = len(code)
    op(ld, 16)  # args[0] low word: clone flags
    op(jset, CLONE_THREAD, "allow", "eperm")
    labels["socket"] = len(code)
    op(ld, 16)  # args[0]: the address family
    op(jeq, 1, "allow", "eacces")  # AF_UNIX only
    for name, value in (("allow", _RET_ALLOW), ("eperm", _RET_ERRNO | _EPERM),
                        ("eacces", _RET_ERRNO | _EACCES), ("enosys", _RET_ERRNO | _ENOSYS)):
        labels[name] = len(code)
        op(ret, value)
    out = b""
    for i, (opcode, jt, jf, k) in enumerate(code):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", opcode, jt, jf, k)
    return out


def apply_seccomp() -> str:
    """Install the filter; '' on success, else why not."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    program = seccomp_program(machine)
    if program is None:
        return f"no filter for {machine}"

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = _Prog(len(program) // 8, program)
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(_libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0))
    except (OSError, AttributeError) as exc:
        return _reason(exc)
    return ""


# -- rlimits --------------------------------------------------------------------------------------
def apply_rlimits(memory_mb: int) -> str:
    """Address space, file size and core limits; '' or why not."""
    try:
        import resource
    except ImportError:
        return "no resource module"
    try:
        for which, value in ((resource.RLIMIT_AS, int(memory_mb) << 20),
                             (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT), (resource.RLIMIT_CORE, 0)):
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, hard))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails instead of killing
    except (OSError, ValueError) as exc:
        return _reason(exc)
    return ""
