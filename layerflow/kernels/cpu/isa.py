"""The vector unit Numba generates code for: its width and its register file.

The explicit-vector kernels (simd.py, direct_conv.py, pooling.py) size their vectors and
register tiles from `target()`, read once at import:

| isa     | vectors  | registers | CPUs                                              |
|---------|----------|-----------|---------------------------------------------------|
| avx512  | 512 bits | 32        | Xeon Skylake-SP and later, AMD Zen 4 / 5           |
| avx2    | 256 bits | 16        | Haswell and later laptops/desktops, AMD Zen 1-3    |
| neon    | 128 bits | 32        | every AArch64 CPU (Graviton, Apple silicon)        |
| generic | 128 bits | 16        | anything else (SSE2): correct, not fast            |

It reads what Numba itself compiles for, not only the host: NUMBA_CPU_NAME and
NUMBA_CPU_FEATURES (numba.core.config) restrict code generation, so that an AVX-512 host
can build and test the AVX2 kernels. Note that NUMBA_CPU_NAME alone keeps the host's
features (Numba passes them along): `NUMBA_CPU_NAME=haswell` on an AVX-512 host still
emits AVX-512; hold it to AVX2 with `NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=+avx2,+fma`,
and give each target its own NUMBA_CACHE_DIR.
"""
import functools
import platform
from dataclasses import dataclass

_AVX512 = {"skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
           "icelake-server", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids",
           "graniterapids", "graniterapids-d", "diamondrapids", "znver4", "znver5",
           "x86-64-v4", "knl", "knm"}
_AVX2 = {"haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake",
         "arrowlake", "arrowlake-s", "lunarlake", "pantherlake", "gracemont", "sierraforest",
         "grandridge", "clearwaterforest", "znver1", "znver2", "znver3", "x86-64-v3",
         "bdver4"}
_ARM = ("aarch64", "arm64")

SHOWN = ("avx512f", "avx512bw", "avx512vl", "avx2", "fma", "avx", "sse4.2", "sse2", "neon",
         "asimd")


@dataclass(frozen=True)
class Target:
    """cpu: the LLVM CPU name Numba compiles for; isa: avx512 | avx2 | neon | generic;
    vector_bytes: one register's width; registers: how many vector registers; fma: fused
    multiply-add in hardware; flags: the features that decided it."""
    cpu: str
    isa: str
    vector_bytes: int
    registers: int
    fma: bool
    flags: tuple

    def describe(self):
        return (f"{self.cpu}: {self.isa}, {self.registers} x {8 * self.vector_bytes}-bit "
                f"vector registers, flags {' '.join(self.flags) or '-'}")


def _flags(cpu, features, host):
    """The set of features Numba's target machine gets: host's when NUMBA_CPU_FEATURES is
    unset (Numba passes them whatever the name), else the name's own plus the list."""
    if features is None:
        return set(host)
    if cpu in _AVX512:
        have = {"avx512f", "avx512bw", "avx512vl", "avx2", "fma", "avx", "sse4.2", "sse2"}
    elif cpu in _AVX2:
        have = {"avx2", "fma", "avx", "sse4.2", "sse2"}
    else:
        have = {"sse2"}
    for item in features.split(","):
        item = item.strip()
        if item[:1] == "+":
            have.add(item[1:])
        elif item[:1] == "-":
            have.discard(item[1:])
    return have


def classify(cpu, flags, machine):
    """Target of an LLVM CPU name with these features on this machine (platform.machine())."""
    if machine.lower() in _ARM:
        return Target(cpu, "neon", 16, 32, True, ("neon",))
    if cpu == "generic":
        flags = {f for f in flags if f in ("sse", "sse2")}
    shown = tuple(f for f in SHOWN if f in flags)
    if "avx512f" in flags:
        return Target(cpu, "avx512", 64, 32, True, shown)
    if "avx2" in flags and "fma" in flags:
        return Target(cpu, "avx2", 32, 16, True, shown)
    return Target(cpu, "generic", 16, 16, "fma" in flags, shown)


@functools.cache
def target():
    """The Target Numba compiles for in this process."""
    import llvmlite.binding as ll
    from numba.core import config
    host_cpu = ll.get_host_cpu_name()
    cpu = config.CPU_NAME or host_cpu
    try:
        host = {k for k, v in ll.get_host_cpu_features().items() if v}
    except RuntimeError:
        host = set()
    if not config.ENABLE_AVX:
        host = {f for f in host if not f.startswith("avx")}
    return classify(cpu, _flags(cpu, config.CPU_FEATURES, host), platform.machine())


def features():
    """One line: the CPU Numba compiles for, its vector ISA, registers and flags, and the
    host CPU when it differs (for `layerflow time` / `layerflow device`)."""
    import llvmlite.binding as ll
    t = target()
    host = ll.get_host_cpu_name()
    return t.describe() + ("" if host == t.cpu else f" (host {host})")


def registers_needed(rows, vecs):
    """Vector registers a rows x vecs register tile holds at once: the accumulators, one
    panel row of vecs vectors and one broadcast value."""
    return rows * vecs + vecs + 1


def fits(rows, vecs, t=None):
    """Whether a rows x vecs tile stays in the register file of target t."""
    return registers_needed(rows, vecs) <= (t or target()).registers
