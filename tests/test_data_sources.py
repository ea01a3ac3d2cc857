"""Every data source on small files made here: the batches match the stored arrays."""
import numpy as np
import pytest

from layerflow.data.mnist import load_mnist
from tests.data_helpers import batches, datum_bytes, make_data_layer, write_idx


def test_npz_in_order_wraps_around(tmp_path):
    x = np.arange(10 * 1 * 2 * 3, dtype=np.float32).reshape(10, 1, 2, 3)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", data=x, label=y)
    layer, top = make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 4,
                                             "prefetch": 2}, phase="TEST")
    got = batches(layer, top, 3)
    idx = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    for (data, label), i in zip(got, idx):
        np.testing.assert_array_equal(data, x[i])
        np.testing.assert_array_equal(label, y[i])
    assert layer.state()["epoch"] == 1 and layer.state()["cursor"] == 2


def test_npz_named_keys_and_three_tops(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.ones((4, 3)), b=np.arange(4), c=np.arange(8).reshape(4, 2))
    layer, top = make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 2,
                                             "keys": ["a", "b", "c"]}, num_top=3, phase="TEST")
    (a, b, c), = batches(layer, top, 1)
    assert a.shape == (2, 3) and b.tolist() == [0, 1] and c.tolist() == [[0, 1], [2, 3]]


def test_hdf5_list_file_joins_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i, n in enumerate((3, 5)):
        x = rng.normal(size=(n, 2, 3, 3)).astype(np.float32)
        y = rng.integers(0, 4, n).astype(np.float32)
        with h5py.File(tmp_path / f"part{i}.h5", "w") as f:
            f["data"], f["label"] = x, y
        xs.append(x)
        ys.append(y)
    (tmp_path / "list.txt").write_text("part0.h5\npart1.h5\n")
    layer, top = make_data_layer("HDF5Data", {"source": str(tmp_path / "list.txt"),
                                              "batch_size": 8}, phase="TEST")
    (data, label), = batches(layer, top, 1)
    np.testing.assert_array_equal(data, np.concatenate(xs))
    np.testing.assert_array_equal(label, np.concatenate(ys))


def _png(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)


def test_image_folder_per_class_and_list_file(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(1)
    images = {}
    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for j in range(2):
            a = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
            _png(tmp_path / "train" / cls / f"{j}.png", a)
            images[f"{cls}/{j}.png"] = a
    layer, top = make_data_layer("ImageFolderData", {"root": str(tmp_path / "train"),
                                                     "batch_size": 4}, phase="TEST")
    (data, label), = batches(layer, top, 1)
    assert layer.classes == ["cat", "dog"] and label.tolist() == [0, 0, 1, 1]
    for k, name in enumerate(["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]):
        np.testing.assert_array_equal(data[k], images[name].transpose(2, 0, 1))
    # Caffe's ImageData list file: `path label`, relative to root_folder
    (tmp_path / "list.txt").write_text("dog/1.png 7\ncat/0.png 3\n")
    layer, top = make_data_layer("ImageFolderData", {
        "source": str(tmp_path / "list.txt"), "root_folder": str(tmp_path / "train"),
        "batch_size": 2, "is_color": False}, phase="TEST")
    (data, label), = batches(layer, top, 1)
    assert data.shape == (2, 1, 5, 4) and label.tolist() == [7, 3]


def test_image_resize_with_new_height_width(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "a").mkdir()
    _png(tmp_path / "a" / "0.png", np.zeros((6, 6, 3), np.uint8))
    _png(tmp_path / "a" / "1.png", np.full((9, 7, 3), 200, np.uint8))
    layer, top = make_data_layer("ImageFolderData", {"root": str(tmp_path), "batch_size": 2,
                                                     "new_height": 4, "new_width": 5})
    (data, _), = batches(layer, top, 1)
    assert data.shape == (2, 3, 4, 5) and sorted(np.unique(data).tolist()) == [0, 200]


def _lmdb(path, values):
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(f"{i:08d}".encode(), v)       # Caffe's convert tools use %08d keys
    env.close()


def test_lmdb_caffe_datums_match_arrays(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (5, 3, 4, 2), dtype=np.uint8)
    y = np.array([3, 0, 9, 1, 300])
    _lmdb(tmp_path / "db", [datum_bytes(3, 4, 2, data=x[i].tobytes(), label=int(y[i]))
                            for i in range(5)])
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "batch_size": 5})
    (data, label), = batches(layer, top, 1)      # LMDBData reads in key order by default
    np.testing.assert_array_equal(data, x)
    np.testing.assert_array_equal(label, y)


def test_lmdb_float_data_and_encoded_png(tmp_path):
    pytest.importorskip("PIL")
    import io
    from PIL import Image
    f = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3) / 7
    _lmdb(tmp_path / "f", [datum_bytes(2, 3, 3, floats=f.ravel().tolist(), label=4)] * 2)
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "f"), "batch_size": 2})
    (data, label), = batches(layer, top, 1)
    np.testing.assert_allclose(data, np.stack([f, f]), rtol=1e-6)
    assert label.tolist() == [4, 4]
    rgb = np.random.default_rng(3).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    _lmdb(tmp_path / "e", [datum_bytes(3, 4, 5, data=buf.getvalue(), label=1, encoded=True)])
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "e"), "batch_size": 1})
    (data, _), = batches(layer, top, 1)
    np.testing.assert_array_equal(data[0], rgb.transpose(2, 0, 1)[::-1])   # BGR, as Caffe


def _cifar(folder, n_per_file=3, labels=None):
    rng = np.random.default_rng(4)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        recs = rng.integers(0, 256, (n_per_file, 3073), dtype=np.uint8)
        recs[:, 0] = rng.integers(0, 10, n_per_file) if labels is None else labels
        recs.tofile(folder / name)
        out.append(recs)
    return out


def test_cifar10_binary_files(tmp_path):
    recs = _cifar(tmp_path / "cifar10")
    layer, top = make_data_layer("CIFAR10Data", {"source": str(tmp_path / "cifar10"),
                                                 "batch_size": 15}, phase="TEST")
    (data, label), = batches(layer, top, 1)
    train = np.concatenate(recs[:5])
    np.testing.assert_array_equal(data, train[:, 1:].reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(label, train[:, 0])
    layer, top = make_data_layer("CIFAR10Data", {"source": str(tmp_path / "cifar10"),
                                                 "split": "test", "batch_size": 3})
    (data, label), = batches(layer, top, 1)
    assert sorted(label.tolist()) == sorted(recs[5][:, 0].tolist())


def test_memory_data_from_python():
    layer, top = make_data_layer("MemoryData", {"batch_size": 2, "channels": 1, "height": 2,
                                                "width": 2}, phase="TEST")
    x = np.arange(12, dtype=np.float32).reshape(3, 1, 2, 2)
    layer.set_arrays(x, [5, 6, 7])
    (d1, l1), (d2, l2) = batches(layer, top, 2)
    np.testing.assert_array_equal(np.concatenate([d1, d2]), x[[0, 1, 2, 0]])
    assert np.concatenate([l1, l2]).tolist() == [5, 6, 7, 5]
    with pytest.raises(ValueError, match=r"data of shape \[3, 2, 2\]"):
        layer.set_arrays(np.zeros((3, 2, 2)))


def test_mnist_layer_matches_idx_files(tmp_path):
    x = np.random.default_rng(5).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = np.array([1, 2, 3, 4, 5, 9], np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y)
    layer, top = make_data_layer("MNISTData", {"split": "test", "source": str(tmp_path),
                                               "batch_size": 6,
                                               "transform": {"scale": 0.00390625}},
                                 phase="TEST")
    (data, label), = batches(layer, top, 1)
    np.testing.assert_allclose(data, x[:, None] / 256.0, rtol=1e-6)
    np.testing.assert_array_equal(label, y)
    images, labels = load_mnist("test", str(tmp_path))
    assert images.shape == (6, 784) and labels.tolist() == y.tolist()


def test_dummy_data_still_fills_shapes():
    layer, top = make_data_layer("DummyData", {"shape": [[2, 3], [2]], "data_filler": [
        {"type": "constant", "value": 1.5}, {"type": "uniform", "min": 0, "max": 4}]})
    assert top[0].data.tolist() == [[1.5] * 3] * 2
    assert all(v == int(v) for v in top[1].data)


def test_lmdb_takes_caffes_data_param_keys(tmp_path):
    _lmdb(tmp_path / "db", [datum_bytes(1, 1, 1, data=bytes([i]), label=i) for i in range(6)])
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "batch_size": 2,
                                              "backend": "LMDB", "rand_skip": 5})
    (data, label), = batches(layer, top, 1)
    start = int(label[0])
    assert label.tolist() == [start, (start + 1) % 6] and data.ravel().tolist() == label.tolist()
    with pytest.raises(ValueError, match="backend LEVELDB is not supported"):
        make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "backend": "LEVELDB"})
