"""The explicit-vector intrinsics and the register tile of the direct convolution,
against plain numpy."""
import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from layerflow.kernels.cpu import conv_plan, isa
from layerflow.kernels.cpu import direct_conv as dc
from layerflow.kernels.cpu.simd import (VECTOR_BYTES, lanes, vadd, vbroadcast, vdiv, vfma,
                                        vgather, vload, vload_index, vload_n, vselect_gt,
                                        vshift, vstore, vstore_n, vzero)


@njit
def _axpy_lanes(a, i, x, j, y, k):
    """y[k:k+L] = x[i] * a[j:j+L] + y[k:k+L] with one vector of each."""
    vstore(y, k, vfma(vbroadcast(x, i), vload(a, j), vload(y, k)))
    return lanes(y)


@njit
def _add_div(a, b, out):
    vstore(out, 0, vdiv(vadd(vload(a, 0), vload(b, 0)), vload(b, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_and_divide_match_numpy_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 16)).astype(dtype)
    out = np.zeros(16, dtype)
    _add_div(a, b, out)
    n = VECTOR_BYTES // np.dtype(dtype).itemsize     # one vector: 16 or 8 lanes with AVX-512
    np.testing.assert_array_equal(out[:n], ((a + b) / b)[:n])
    assert not out[n:].any()


@njit
def _copy_first(src, i, dst, j, n):
    vstore_n(dst, j, vload_n(src, i, n), n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_masked_load_and_store_touch_only_n_elements(dtype, n):
    n = min(n, VECTOR_BYTES // np.dtype(dtype).itemsize - 1)   # n < lanes on every target
    src = np.arange(1, 41, dtype=dtype)
    dst = np.full(40, -1, dtype)
    _copy_first(src, 40 - n, dst, 3, n)             # src[40-n:40] only: no read past 40
    want = np.full(40, -1, dtype)
    want[3:3 + n] = src[40 - n:]
    np.testing.assert_array_equal(dst, want)


@njit
def _zero(y):
    vstore(y, 0, vzero(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vector_ops_match_numpy(dtype):
    n = VECTOR_BYTES // np.dtype(dtype).itemsize
    rng = np.random.default_rng(0)
    a, x, y = (rng.normal(size=40).astype(dtype) for _ in range(3))
    want = y.copy()
    want[5:5 + n] = x[7] * a[3:3 + n] + y[5:5 + n]
    assert _axpy_lanes(a, 7, x, 3, y, 5) == n
    np.testing.assert_allclose(y, want, rtol=1e-6 if dtype == np.float32 else 1e-15)
    _zero(y)
    assert not y[:n].any() and y[n] == want[n]


def test_vectors_refuse_what_they_cannot_address():
    with pytest.raises(TypingError, match="1-D contiguous"):
        _zero(np.zeros((4, 16)))
    with pytest.raises(TypingError, match="1-D contiguous"):
        _zero(np.zeros(64, np.int32))


@njit
def _gather_max(x, base, offsets, candidate, out, index):
    """out = x[base + offsets] where candidate > it, with index = offsets + 100 there."""
    offs = vload_index(offsets, 0, x)
    v = vgather(x, base, offs)
    c = vload(candidate, 0)
    vstore(index, 0, vselect_gt(c, v, vshift(offs, 100), offs))
    vstore(out, 0, vselect_gt(c, v, c, v))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_compare_select(dtype):
    n = VECTOR_BYTES // np.dtype(dtype).itemsize
    rng = np.random.default_rng(2)
    x = rng.normal(size=50).astype(dtype)
    offsets = rng.integers(0, 40, size=n).astype(np.int32)
    candidate = rng.normal(size=n).astype(dtype)
    candidate[0] = np.nan                  # NaN is never greater: the gathered value stays
    out, index = np.zeros(n, dtype), np.zeros(n, np.int32)
    _gather_max(x, 7, offsets, candidate, out, index)
    v = x[7 + offsets]
    take = candidate > v
    np.testing.assert_array_equal(out, np.where(take, candidate, v))
    np.testing.assert_array_equal(index, np.where(take, offsets + 100, offsets))
    assert out[0] == v[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tile", conv_plan.tiles())
def test_register_tile_is_a_gathered_product(dtype, tile):
    R, V = tile
    rng = np.random.default_rng(1)
    width = dc.lanes_of(dtype, V)
    x = rng.normal(size=500).astype(dtype)
    rows = rng.integers(0, 200, size=R + 3)
    offs = rng.integers(0, 300, size=37)
    b = rng.normal(size=(40, width)).astype(dtype)
    acc = np.full(R * width + 5, 7, dtype)
    dc.tile(x, rows, 3, offs, 2, 30, b.ravel(), width, acc, 5, dc.tile_shape(R, V))
    gathered = x[rows[3:3 + R, None] + offs[None, 2:30]].astype(np.float64)
    panel = b[3:31].astype(np.float64)                           # taps 2..29, panel from b[1]
    want = gathered @ panel
    scale = np.abs(gathered) @ np.abs(panel)                     # rounding grows with it
    eps = np.finfo(dtype).eps
    assert (np.abs(acc[5:].reshape(R, width) - want) <= 40 * eps * scale).all()
    assert (acc[:5] == 7).all()


def test_every_target_tile_fits_its_register_file():
    """Each ISA's candidate tiles keep accumulators, panel and broadcast in its registers;
    the check itself fails for AVX-512's 10 x 2 tile on AVX2's 16 registers."""
    machines = {"avx512": ("znver4", {"avx512f", "avx2", "fma"}, "x86_64"),
                "avx2": ("haswell", {"avx2", "fma"}, "x86_64"),
                "neon": ("apple-m1", set(), "arm64"),
                "generic": ("generic", {"sse2"}, "x86_64")}
    assert set(machines) == set(conv_plan.TILES)
    for name, (cpu, flags, machine) in machines.items():
        t = isa.classify(cpu, flags, machine)
        assert t.isa == name
        for rows, vecs in conv_plan.TILES[name]:
            assert isa.fits(rows, vecs, t), (name, rows, vecs, t.registers)
    assert not isa.fits(10, 2, isa.classify("haswell", {"avx2", "fma"}, "x86_64"))


def test_target_follows_numba_cpu_settings():
    """NUMBA_CPU_NAME alone keeps the host's features (Numba passes them on); with
    NUMBA_CPU_FEATURES the name's own set applies."""
    assert isa._flags("haswell", None, {"avx512f", "avx2"}) == {"avx512f", "avx2"}
    t = isa.classify("haswell", isa._flags("haswell", "+avx2,+fma", {"avx512f"}), "x86_64")
    assert (t.isa, t.vector_bytes, t.registers) == ("avx2", 32, 16)
    t = isa.classify("generic", isa._flags("generic", "", {"avx512f"}), "x86_64")
    assert (t.isa, t.vector_bytes) == ("generic", 16)
    t = isa.classify("skylake-avx512", isa._flags("skylake-avx512", "-avx512f", set()),
                     "x86_64")
    assert t.isa == "avx2"
    assert isa.target().vector_bytes == VECTOR_BYTES


TARGETS = {"haswell": "+avx2,+fma", "generic": ""}


@pytest.mark.parametrize("cpu", sorted(TARGETS))
def test_kernels_on_other_targets(cpu, tmp_path):
    """The vector and tile tests, and a direct convolution against PyTorch, with code
    generation held to another target (its own Numba cache, so that no kernel compiled for
    this CPU is reused)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=TARGETS[cpu],
               NUMBA_CACHE_DIR=str(Path(tempfile_root()) / f"layerflow-nbcache-{cpu}"),
               LAYERFLOW_TUNING_DIR=str(tmp_path), PYTHONPATH=str(root))
    conv = "tests/layers/test_convolution.py::"
    tests = ["tests/test_simd.py", conv + "test_convolution_matches_torch",
             conv + "test_every_candidate_matches_torch",
             conv + "test_one_image_split_over_threads_matches_torch",
             "tests/layers/test_pooling.py"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          "-k", "not other_targets and not gradient", *tests], cwd=root, env=env,
                         capture_output=True, text=True, timeout=900, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    code = "from layerflow.kernels.cpu import isa; print(isa.target().isa)"
    check = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                           capture_output=True, text=True, check=False)
    assert check.stdout.strip() == ("avx2" if cpu == "haswell" else "generic")


def tempfile_root():
    import tempfile
    return tempfile.gettempdir()
