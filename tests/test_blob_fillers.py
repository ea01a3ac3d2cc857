import numpy as np
import pytest

from layerflow import Blob
from layerflow.fillers import FillerSpec, fill


def test_reshape_reuses_memory_when_it_fits():
    b = Blob((4, 5))
    buf = b.data.base
    b.reshape((2, 10))
    assert b.data.base is buf and b.shape == (2, 10) and b.count == 20
    b.reshape((3, 3))
    assert b.data.base is buf
    b.reshape((5, 5))
    assert b.data.base is not buf and b.data.shape == (5, 5)


def test_share_data_and_diff():
    a, b = Blob((2, 3)), Blob((3, 2))
    b.share_data(a)
    a.data[...] = 7
    assert np.all(b.data == 7) and b.data.shape == (3, 2)
    b.share_diff(a)
    b.diff[...] = 2
    assert np.all(a.diff == 2)
    with pytest.raises(ValueError, match="counts differ"):
        Blob((4,)).share_data(a)


def test_float64_blob():
    assert Blob((2,), np.float64).data.dtype == np.float64


@pytest.mark.parametrize("kind,check", [
    ("constant", lambda w: np.all(w == 0.5)),
    ("uniform", lambda w: w.min() >= -0.3 and w.max() <= 0.3),
    ("xavier", lambda w: np.abs(w).max() <= np.sqrt(3 / 200) and w.std() > 0.05),
    ("msra", lambda w: abs(w.std() - np.sqrt(2 / 200)) < 0.01),
    ("gaussian", lambda w: abs(w.std() - 0.3) < 0.02),
    ("positive_unitball", lambda w: np.allclose(w.sum(axis=1), 1) and w.min() >= 0),
])
def test_fillers(kind, check):
    w = np.zeros((300, 200), np.float32)
    fill(w, FillerSpec(type=kind, value=0.5, min=-0.3, max=0.3, std=0.3),
         np.random.default_rng(0))
    assert check(w)


def test_bilinear_filler_matches_caffe_upsampling_kernel():
    w = np.zeros((1, 1, 4, 4))
    fill(w, FillerSpec(type="bilinear"), np.random.default_rng(0))
    row = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(w[0, 0], np.outer(row, row))
