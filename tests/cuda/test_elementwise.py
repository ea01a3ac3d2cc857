"""ReLU, Sigmoid, TanH and Dropout kernels against their CPU twins."""
import numpy as np
import pytest

from layerflow.kernels.cpu import dropout as cdrop
from layerflow.kernels.cpu import relu as crelu
from layerflow.kernels.cpu import sigmoid as csig
from layerflow.kernels.cpu import tanh as ctanh
from layerflow.kernels.cuda import dropout as gdrop
from layerflow.kernels.cuda import relu as grelu
from layerflow.kernels.cuda import sigmoid as gsig
from layerflow.kernels.cuda import tanh as gtanh

from .util import DTYPES, SIZES, dev, host, tol

pytestmark = pytest.mark.cuda


def _inputs(rng, n, dtype):
    x = (rng.standard_normal(n) * 4).astype(dtype)
    x[0] = 0.0
    return x, rng.standard_normal(n).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_relu(rng, n, dtype):
    x, dy = _inputs(rng, n, dtype)
    slope = dtype(0.1)
    y, dx = np.empty_like(x), np.empty_like(x)
    crelu.relu_forward(x, slope, y)
    crelu.relu_backward(x, dy, slope, dx)
    gy, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    grelu.relu_forward(dev(x), slope, gy)
    grelu.relu_backward(dev(x), dev(dy), slope, gdx)
    np.testing.assert_array_equal(host(gy), y)
    np.testing.assert_array_equal(host(gdx), dx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_inplace_and_nan(rng, dtype):
    x, dy = _inputs(rng, 37, dtype)
    x[5] = np.nan
    want, wdx = x.copy(), dy.copy()
    crelu.relu_forward_inplace(want, dtype(0.0))
    crelu.relu_backward_inplace(want, wdx, dtype(0.0))
    gx, gd = dev(x), dev(dy)
    grelu.relu_forward_inplace(gx, 0.0)
    grelu.relu_backward_inplace(gx, gd, 0.0)
    np.testing.assert_array_equal(host(gx), want)     # NaN where NaN
    np.testing.assert_array_equal(host(gd), wdx)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [37, 300])
@pytest.mark.parametrize("cpu,gpu", [(csig, gsig), (ctanh, gtanh)], ids=["sigmoid", "tanh"])
def test_sigmoid_tanh(rng, n, dtype, cpu, gpu):
    name = cpu.__name__.rsplit(".", 1)[1]
    x, dy = _inputs(rng, n, dtype)
    x[1], x[2] = 80.0, -80.0                      # no overflow either way
    y, dx = np.empty_like(x), np.empty_like(x)
    getattr(cpu, f"{name}_forward")(x, y)
    getattr(cpu, f"{name}_backward")(y, dy, dx)
    gy, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    getattr(gpu, f"{name}_forward")(dev(x), gy)
    getattr(gpu, f"{name}_backward")(dev(y), dev(dy), gdx)
    np.testing.assert_allclose(host(gy), y, **tol(dtype))
    np.testing.assert_allclose(host(gdx), dx, **tol(dtype))
    gx = dev(x)                                    # the in-place twins
    getattr(gpu, f"{name}_forward_inplace")(gx)
    np.testing.assert_allclose(host(gx), y, **tol(dtype))


def hash_uniform_reference(seed, n):
    """numpy twin of cuda.dropout's counter hash: the same (seed, i) -> u, on the host."""
    m = np.uint64(0xFFFFFFFF)

    def mix(h):
        h ^= h >> np.uint64(16)
        h = (h * np.uint64(0x7FEB352D)) & m
        h ^= h >> np.uint64(15)
        h = (h * np.uint64(0x846CA68B)) & m
        return h ^ (h >> np.uint64(16))

    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    i = np.arange(n, dtype=np.uint64)
    h = mix(mix(((i * np.uint64(0x9E3779B9)) & m) ^ k0) ^ k1)
    return (h >> np.uint64(8)).astype(np.float64) / (1 << 24)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_uniform_reproducible(dtype):
    seed = 0x1234_5678_9ABC_DEF0
    u1, u2, u3 = (dev(np.zeros(300, dtype)) for _ in range(3))
    gdrop.dropout_uniform(seed, u1)
    gdrop.dropout_uniform(seed, u2)
    gdrop.dropout_uniform(seed + 1, u3)
    a, b, c = host(u1), host(u2), host(u3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, hash_uniform_reference(seed, 300).astype(dtype))
    assert (a != c).mean() > 0.99                  # another seed, other numbers
    assert a.min() >= 0 and a.max() < 1
    assert abs(a.mean() - 0.5) < 0.06              # 300 draws: sd of the mean 0.017


def test_dropout_uniform_statistics():
    u = hash_uniform_reference(7, 200_000)          # the host twin, for numbers the simulator
    counts = np.histogram(u, bins=16, range=(0, 1))[0]   # could not draw in time
    assert abs(counts / 12_500 - 1).max() < 0.05
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [37, 300])
def test_dropout(rng, n, dtype):
    x, dy = _inputs(rng, n, dtype)
    u = dev(np.zeros(n, dtype))
    gdrop.dropout_uniform(99, u)
    hu = host(u)
    ratio = 0.3
    y, dx = np.empty_like(x), np.empty_like(x)
    cdrop.dropout_forward(x, hu, ratio, 1 / (1 - ratio), y)
    cdrop.dropout_backward(dy, hu, ratio, 1 / (1 - ratio), dx)
    gy, gdx = dev(np.zeros_like(x)), dev(np.zeros_like(x))
    gdrop.dropout_forward(dev(x), u, ratio, 1 / (1 - ratio), gy)
    gdrop.dropout_backward(dev(dy), u, ratio, 1 / (1 - ratio), gdx)
    np.testing.assert_allclose(host(gy), y, **tol(dtype))
    np.testing.assert_allclose(host(gdx), dx, **tol(dtype))
    np.testing.assert_array_equal(host(gy) == 0, y == 0)
