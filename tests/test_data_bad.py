"""Bad data: every case gives a clear error naming the file and the record, never a batch."""
import numpy as np
import pytest

from layerflow.data import DataFileError
from layerflow.data.mnist import load_mnist, read_idx
from tests.data_helpers import batches, datum_bytes, make_data_layer, write_idx


def test_truncated_idx_names_file_and_record(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28)))
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:16 + 3 * 784 + 100])
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte.*record 3 of 5"):
        read_idx(tmp_path / "t10k-images-idx3-ubyte")


def test_mnist_label_out_of_range_names_record(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", [1, 12, 3])
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte: record 1: label 12"):
        load_mnist("test", str(tmp_path))


def _cifar(folder, label=3, size=3073 * 2):
    folder.mkdir(exist_ok=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)]:
        recs = np.zeros((2, 3073), np.uint8)
        recs[:, 0] = label
        recs.tofile(folder / name)
    (folder / "data_batch_3.bin").write_bytes(bytes(size))


def test_truncated_cifar_names_file_and_record(tmp_path):
    _cifar(tmp_path / "c", size=3073 + 1000)
    with pytest.raises(DataFileError, match=r"data_batch_3\.bin.*record 1 is truncated"):
        make_data_layer("CIFAR10Data", {"source": str(tmp_path / "c"), "batch_size": 2})


def test_cifar_label_out_of_range(tmp_path):
    _cifar(tmp_path / "c")
    raw = bytearray((tmp_path / "c" / "data_batch_2.bin").read_bytes())
    raw[3073] = 11                                 # the label byte of record 1
    (tmp_path / "c" / "data_batch_2.bin").write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match=r"data_batch_2\.bin, record 1: label 11"):
        make_data_layer("CIFAR10Data", {"source": str(tmp_path / "c"), "batch_size": 2})


def test_truncated_hdf5_names_file(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["data"] = np.zeros((50, 20))
        f["label"] = np.zeros(50)
    raw = (tmp_path / "a.h5").read_bytes()
    (tmp_path / "a.h5").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataFileError, match=r"a\.h5: not a readable HDF5 file"):
        make_data_layer("HDF5Data", {"source": str(tmp_path / "a.h5"), "batch_size": 2})


def test_hdf5_files_with_different_record_shapes(tmp_path):
    h5py = pytest.importorskip("h5py")
    for name, width in (("a.h5", 4), ("b.h5", 5)):
        with h5py.File(tmp_path / name, "w") as f:
            f["data"], f["label"] = np.zeros((3, width)), np.zeros(3)
    (tmp_path / "list.txt").write_text("a.h5\nb.h5\n")
    with pytest.raises(DataFileError, match=r"b\.h5: dataset 'data' has records of shape \[5\]"):
        make_data_layer("HDF5Data", {"source": str(tmp_path / "list.txt"), "batch_size": 2})


@pytest.mark.parametrize("prefetch", [0, 2])
def test_image_that_does_not_decode(tmp_path, prefetch):
    pytest.importorskip("PIL")
    from PIL import Image
    (tmp_path / "a").mkdir()
    for j in range(3):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a" / f"{j}.png")
    (tmp_path / "a" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    layer, top = make_data_layer("ImageFolderData", {"root": str(tmp_path), "batch_size": 3,
                                                     "prefetch": prefetch}, phase="TEST")
    with pytest.raises(DataFileError, match=r"a/1\.png \(record 1 of .*does not decode"):
        batches(layer, top, 1)


def test_images_whose_shapes_differ(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a" / "0.png")
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(tmp_path / "a" / "1.png")
    layer, top = make_data_layer("ImageFolderData", {"root": str(tmp_path), "batch_size": 2,
                                                     "prefetch": 0}, phase="TEST")
    with pytest.raises(DataFileError, match=r"1\.png \(record 1.*shape \[3, 5, 4\]"):
        batches(layer, top, 1)


def _lmdb(path, values):
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(path), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(f"{i:08d}".encode(), v)
    env.close()


def test_lmdb_records_whose_shapes_differ(tmp_path):
    _lmdb(tmp_path / "db", [datum_bytes(1, 2, 2, data=bytes(4)),
                            datum_bytes(1, 3, 2, data=bytes(6))])
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "batch_size": 2,
                                              "prefetch": 0})
    with pytest.raises(DataFileError, match=r"db, record 1 \(key '00000001'\).*\[1, 3, 2\]"):
        batches(layer, top, 1)


def test_lmdb_value_that_is_not_a_datum(tmp_path):
    _lmdb(tmp_path / "db", [datum_bytes(1, 2, 2, data=bytes(4)), b"\x22\x7fshort",
                            datum_bytes(1, 2, 2, data=bytes(3))])
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "batch_size": 2})
    with pytest.raises(DataFileError, match=r"record 1 .*not a Caffe Datum"):
        batches(layer, top, 1)
    layer, top = make_data_layer("LMDBData", {"source": str(tmp_path / "db"), "batch_size": 1,
                                              "prefetch": 0})
    layer.set_state({"epoch": 0, "cursor": 2, "order": np.arange(3)})
    with pytest.raises(DataFileError, match=r"record 2 .*3 data bytes"):
        batches(layer, top, 1)


def test_label_outside_num_classes(tmp_path):
    np.savez(tmp_path / "d.npz", data=np.zeros((4, 2)), label=np.array([0, 1, 1.5, 2]))
    layer, top = make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 4,
                                             "num_classes": 3, "prefetch": 0}, phase="TEST")
    with pytest.raises(DataFileError, match=r"d\.npz, record 2: label 1\.5 is not a class id"):
        batches(layer, top, 1)


def test_npz_arrays_that_do_not_pair_up(tmp_path):
    np.savez(tmp_path / "d.npz", data=np.zeros((4, 2)), label=np.zeros(3))
    with pytest.raises(DataFileError, match=r"d\.npz: arrays of 4 and 3 records"):
        make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 2})
    (tmp_path / "t.npz").write_bytes((tmp_path / "d.npz").read_bytes()[:100])
    with pytest.raises(DataFileError, match=r"t\.npz: not a readable \.npz"):
        make_data_layer("NPZData", {"source": str(tmp_path / "t.npz"), "batch_size": 2})


def test_missing_mnist_says_where_to_put_files(tmp_path):
    with pytest.raises(DataFileError, match=r"put the four files .*train-images-idx3-ubyte\.gz"):
        load_mnist("train", str(tmp_path))
