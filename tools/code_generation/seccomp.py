"""A seccomp filter for the sandbox: the system calls generated code has no business making fail
with EPERM: new processes (`fork`, `vfork`, and `clone` unless it makes a thread, so no fork bombs and
no namespaces through `clone`'s flags), tracing other processes, mounting, namespaces, io_uring,
loading kernel code, changing the clock... `clone3` answers ENOSYS, so the C library falls back to
`clone` for threads. Built by hand as a classic BPF program, which bubblewrap installs (`--seccomp
FD`) just before the sandboxed program starts; only for x86-64 (elsewhere the sandbox runs without
it and says so)."""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_KILL, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
LD_ABS, JEQ, JGE, JSET, RET = (
    0x20,
    0x15,
    0x35,
    0x45,
    0x06,
)  # BPF_LD|W|ABS, BPF_JMP|{JEQ,JGE,JSET}|K, BPF_RET|K
CLONE, CLONE3, CLONE_THREAD = 56, 435, 0x00010000
DENIED = {  # x86-64 system call numbers
    "fork": 57, "vfork": 58, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "ptrace": 101, "syslog": 103, "personality": 135, "pivot_root": 155, "acct": 163,
    "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "perf_event_open": 298, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "pidfd_getfd": 438, "mount_setattr": 442,
}  # fmt: skip


def supported() -> bool:
    return platform.machine() == "x86_64"


def program() -> bytes:
    """The filter as struct sock_filter records (u16 code, u8 jt, u8 jf, u32 k), native byte order.
    Jumps only go forward, so the checks come first and the returns last."""
    calls = sorted(DENIED.values())
    listed = 5  # the index of the first listed call's check
    clone = listed + len(calls) + 1  # after the list and the clone3 check
    allow = clone + 4
    deny, no_such, kill = allow + 1, allow + 2, allow + 3
    rows = [
        (LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (JEQ, 1, 0, AUDIT_ARCH_X86_64),
        (RET, 0, 0, RET_KILL),  # another architecture's calls: not ours to run
        (LD_ABS, 0, 0, 0),  # seccomp_data.nr
        (JGE, kill - 5, 0, X32_SYSCALL_BIT),  # the x32 ABI: its numbers would slip past the list
    ]
    rows += [(JEQ, deny - (listed + i + 1), 0, nr) for i, nr in enumerate(calls)]
    rows += [
        (JEQ, no_such - (clone - 1 + 1), 0, CLONE3),  # its flags sit in memory BPF cannot read
        (JEQ, 0, 3, CLONE),  # clone: look at its flags; anything else: allowed
        (LD_ABS, 0, 0, 16),  # seccomp_data.args[0], low half: the clone flags
        (JSET, 1, 0, CLONE_THREAD),  # a thread: allowed
        (RET, 0, 0, RET_ERRNO | errno.EPERM),  # a new process (or namespace): refused
        (RET, 0, 0, RET_ALLOW),
        (RET, 0, 0, RET_ERRNO | errno.EPERM),
        (RET, 0, 0, RET_ERRNO | errno.ENOSYS),
        (RET, 0, 0, RET_KILL),
    ]
    assert len(rows) == kill + 1
    return b"".join(struct.pack("=HBBI", *row) for row in rows)
