"""Property tests (hypothesis) of shape inference and of the blob allocator: for any
geometry, a net either builds with the shapes Caffe's formulas give or refuses with a
ConfigError naming the layer; never another exception, never a wrong shape."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerflow import ConfigError, Net
from layerflow.blob import Blob

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _net(layer, shape):
    return {"layers": [{"name": "in", "type": "Input", "top": "x", "shape": list(shape)},
                       dict(layer, name="probe", bottom="x", top="y")]}


def conv_out(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def pool_out(size, k, s, p, other_pad, ceil):
    out = (math.ceil if ceil else math.floor)((size + 2 * p - k) / s) + 1
    if (p or other_pad) and (out - 1) * s >= size + p:
        out -= 1
    return out


@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12),
       k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3),
       m=st.integers(1, 5))
def test_convolution_shape_or_config_error(n, c, h, w, k, s, p, d, m):
    layer = {"type": "Convolution", "num_output": m, "kernel_size": k, "stride": s, "pad": p,
             "dilation": d}
    oh, ow = conv_out(h, k, s, p, d), conv_out(w, k, s, p, d)
    try:
        net = Net(_net(layer, (n, c, h, w)))
    except ConfigError as exc:
        assert "probe" in str(exc)
        assert oh < 1 or ow < 1, f"refused a valid geometry: {exc}"
        return
    assert net.blobs["y"].shape == (n, m, oh, ow)


@SETTINGS
@given(h=st.integers(1, 12), w=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4),
       ph=st.integers(0, 2), pw=st.integers(0, 2), pool=st.sampled_from(["MAX", "AVE"]),
       ceil=st.booleans())
def test_pooling_shape_or_config_error(h, w, k, s, ph, pw, pool, ceil):
    layer = {"type": "Pooling", "pool": pool, "kernel_size": k, "stride": s, "pad_h": ph,
             "pad_w": pw, "round_mode": "CEIL" if ceil else "FLOOR"}
    try:
        net = Net(_net(layer, (2, 3, h, w)))
    except ConfigError as exc:
        assert "probe" in str(exc)
        assert ph >= k or pw >= k or k > h + 2 * ph or k > w + 2 * pw, str(exc)
        return
    assert net.blobs["y"].shape == (2, 3, pool_out(h, k, s, ph, pw, ceil),
                                    pool_out(w, k, s, pw, ph, ceil))


@SETTINGS
@given(shapes=st.lists(st.lists(st.integers(0, 6), min_size=0, max_size=4), min_size=1,
                       max_size=6))
def test_blob_reshape_reuses_memory_that_fits(shapes):
    blob = Blob((), np.float32)
    capacity, buffers = 1, blob.buffers()
    for shape in shapes:
        blob.reshape(shape)
        count = int(np.prod(shape, dtype=np.int64))
        assert blob.shape == tuple(shape) and blob.count == count
        assert blob.data.shape == tuple(shape) and blob.diff.shape == tuple(shape)
        grew = count > capacity
        assert (blob.buffers()[0] is not buffers[0]) == grew
        capacity, buffers = max(capacity, count), blob.buffers()
