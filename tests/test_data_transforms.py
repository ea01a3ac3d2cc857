"""Transforms: each step against a plain-numpy reference, the two YAML forms, the order."""
import numpy as np
import pytest

from layerflow.config import ConfigError
from layerflow.kernels.cpu import transforms as K
from tests.data_helpers import batches, make_data_layer

N, C, H, W = 16, 3, 6, 5


@pytest.fixture
def npz(tmp_path):
    x = np.random.default_rng(0).uniform(0, 255, (N, C, H, W)).astype(np.float32)
    np.savez(tmp_path / "d.npz", data=x, label=np.arange(N))
    return str(tmp_path / "d.npz"), x


def run(npz, transform, phase="TRAIN", dtype=np.float32, batch=N):
    path, x = npz
    layer, top = make_data_layer("NPZData", {"source": path, "batch_size": batch,
                                             "shuffle": False, "transform": transform},
                                 phase=phase, dtype=dtype)
    (data, label), = batches(layer, top, 1)
    return data, x[label.astype(int)]


def test_mapping_form_is_caffes_order(npz):
    mean = [10.0, 20.0, 30.0]
    data, x = run(npz, {"crop_size": 4, "mean_value": mean, "scale": 0.5}, phase="TEST")
    ref = (x[:, :, 1:5, 0:4] - np.array(mean)[:, None, None]) * 0.5     # centre crop in TEST
    np.testing.assert_allclose(data, ref, rtol=1e-5)


def test_list_form_runs_in_written_order(npz):
    a, x = run(npz, [{"scale": 2.0}, {"mean_value": 1.0}])
    b, _ = run(npz, [{"mean_value": 1.0}, {"scale": 2.0}])
    np.testing.assert_allclose(a, x * 2 - 1, rtol=1e-6)
    np.testing.assert_allclose(b, (x - 1) * 2, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_crop_and_mirror_pick_real_crops(npz, dtype):
    data, x = run(npz, [{"crop": 3}, {"mirror": True}], dtype=dtype)
    assert data.dtype == dtype and data.shape == (N, C, 3, 3)
    seen_flip, seen_offsets = set(), set()
    for k in range(N):
        hits = [(y, xo, f) for y in range(H - 2) for xo in range(W - 2) for f in (0, 1)
                if np.allclose(data[k], (x[k, :, y:y + 3, xo:xo + 3])[..., ::-1 if f else 1])]
        assert hits, f"image {k} is not a crop of its source"
        seen_flip.add(hits[0][2])
        seen_offsets.add(hits[0][:2])
    assert seen_flip == {0, 1} and len(seen_offsets) > 2


def test_random_steps_do_nothing_in_test(npz):
    data, x = run(npz, [{"mirror": True}, {"rotate": 30}, {"color_jitter": {"brightness": 0.5}}],
                  phase="TEST")
    np.testing.assert_array_equal(data, x)


def test_rotate_kernel_quarter_turn_is_rot90():
    img = np.random.default_rng(1).normal(size=(2, 1, 5, 5))
    out = np.zeros_like(img)
    K.rotate_bilinear(img, np.array([90.0, 0.0]), out)
    np.testing.assert_allclose(out[0, 0], np.rot90(img[0, 0]), atol=1e-12)
    np.testing.assert_allclose(out[1], img[1], atol=1e-12)


def test_rotate_train_keeps_centre_and_varies(npz):
    data, x = run(npz, {"rotate": 45})
    assert data.shape == x.shape and not np.allclose(data, x)


def test_resized_crop(npz):
    data, x = run(npz, {"resized_crop": {"size": [H, W]}}, phase="TEST")   # whole image
    np.testing.assert_allclose(data, x, rtol=1e-5)
    data, _ = run(npz, {"resized_crop": {"size": 4, "scale": [0.3, 0.6]}})
    assert data.shape == (N, C, 4, 4)
    boxes = np.zeros((200, 4))
    K.resized_crop_boxes(np.random.default_rng(2).random((200, 4)), 60, 50, 0.3, 0.6,
                         np.log(0.75), np.log(4 / 3), boxes)
    area = boxes[:, 2] * boxes[:, 3] / 3000
    assert area.min() > 0.1 and area.max() <= 0.6 + 1e-9
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 60 + 1e-9).all()


def test_color_jitter_kernel():
    x = np.random.default_rng(3).uniform(size=(1, 3, 4)).astype(np.float64)
    out = x.copy()
    K.color_jitter(out, np.array([[2.0, 1.0, 1.0]]))
    np.testing.assert_allclose(out, 2 * x)
    out = x.copy()
    K.color_jitter(out, np.array([[1.0, 0.0, 1.0]]))              # contrast 0: the mean
    np.testing.assert_allclose(out, np.full_like(x, x.mean()))
    out = x.copy()
    K.color_jitter(out, np.array([[1.0, 1.0, 0.0]]))              # saturation 0: grey
    grey = 0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]
    np.testing.assert_allclose(out[0], np.stack([grey] * 3))


def test_mean_file_npy_and_binaryproto(npz, tmp_path):
    from tests.data_helpers import varint
    mean = np.random.default_rng(4).uniform(size=(C, H, W)).astype(np.float32)
    np.save(tmp_path / "mean.npy", mean)
    data, x = run(npz, {"mean_file": str(tmp_path / "mean.npy")}, phase="TEST")
    np.testing.assert_allclose(data, x - mean, rtol=1e-5)
    # BlobProto: num 1, channels 2, height 3, width 4, data 5 (packed floats)
    raw = mean.astype("<f4").tobytes()
    proto = b"".join(varint(k << 3) + varint(v) for k, v in ((1, 1), (2, C), (3, H), (4, W)))
    proto += varint(5 << 3 | 2) + varint(len(raw)) + raw
    (tmp_path / "mean.binaryproto").write_bytes(proto)
    data2, _ = run(npz, {"mean_file": str(tmp_path / "mean.binaryproto")}, phase="TEST")
    np.testing.assert_array_equal(data, data2)


def test_same_seed_same_augmentation(npz):
    a, _ = run(npz, [{"crop": 4}, {"mirror": True}, {"rotate": 10}])
    b, _ = run(npz, [{"crop": 4}, {"mirror": True}, {"rotate": 10}])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("transform, message", [
    ([{"crop": 3, "mirror": True}], "exactly one of"),
    ([{"mirorr": True}], "did you mean .mirror"),
    ({"crop_size": 9}, "larger than the image"),
    ({"mean_value": [1, 2]}, "2 values for 3 channels"),
])
def test_transform_config_errors(npz, transform, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        run(npz, transform)


def test_spatial_step_needs_images(tmp_path):
    np.savez(tmp_path / "v.npz", data=np.zeros((4, 10)), label=np.zeros(4))
    with pytest.raises(ValueError, match="needs image records"):
        make_data_layer("NPZData", {"source": str(tmp_path / "v.npz"), "batch_size": 2,
                                    "transform": [{"mirror": True}]})
