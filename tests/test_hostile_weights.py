"""Hostile and careless weights and data files (issue 16, items 2 and 7): refused in one line
naming the file (and the array), checked from headers before anything is decompressed."""
import gzip
import io
import os
import struct
import threading
import time
import zipfile

import numpy as np
import pytest

from layerflow import Net
from layerflow.cli import main
from layerflow.data import DataFileError
from layerflow.data.mnist import read_idx
from layerflow.io.weights import (WeightsFileError, copy_weights, load_npz, load_weights,
                                  save_npz_atomic)
from layerflow.layers.accuracy import Accuracy  # noqa: F401  (registers the type)
from tests.layers.harness import make_layer

NET = """\
name: small
layers:
  - {name: data, type: DummyData, top: [data, label], shape: [[4, 6], [4]],
     data_filler: [{type: gaussian}, {type: constant, value: 1}]}
  - {name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 5}
  - {name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 3}
  - {name: accuracy, type: Accuracy, bottom: [ip2, label], top: accuracy}
  - {name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}
"""


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    return path


def saved(net_file, tmp_path, name="w.npz", **change):
    net = Net(str(net_file), seed=1)
    arrays = {f"{l.name}/{i}": b.data.copy() for l in net.layers for i, b in enumerate(l.blobs)}
    for key, value in change.items():
        key = key.replace("__", "/")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


# -- item 2: NaN never scores ----------------------------------------------------------------
def test_accuracy_never_counts_nan_scores_as_correct():
    scores = np.array([[np.nan] * 3, [0, np.nan, 1], [1, 0, 0], [np.nan, 5, 0]])
    layer, bottoms, tops = make_layer("Accuracy", {}, [scores, np.array([0., 2, 0, 1])])
    layer.forward(bottoms, tops)
    assert tops[0].data == pytest.approx(0.25)          # only row 2 is right


def test_test_command_refuses_nan_weights(net_file, tmp_path, capsys):
    weights = saved(net_file, tmp_path, ip2__0=np.full((3, 5), np.nan, np.float32))
    assert main(["test", str(net_file), "--weights", str(weights), "--iterations", "1"]) == 1
    err = capsys.readouterr().err
    assert "w.npz: array 'ip2/0' holds 15 non-finite value(s)" in err and "Traceback" not in err


def test_weights_with_inf_refused_when_fine_tuning(net_file, tmp_path):
    bad = np.zeros(5, np.float32)
    bad[3] = np.inf
    weights = saved(net_file, tmp_path, ip1__1=bad)
    with pytest.raises(WeightsFileError, match=r"'ip1/1' holds 1 non-finite.*flat index 3"):
        Net(str(net_file), weights=str(weights))
    assert np.isinf(load_weights(weights, allow_nonfinite=True)["ip1/1"][3])


# -- item 7 ----------------------------------------------------------------------------------
def test_test_command_refuses_weights_missing_params(net_file, tmp_path, capsys):
    weights = saved(net_file, tmp_path, ip2__0=None, ip2__1=None)
    assert main(["test", str(net_file), "--weights", str(weights), "--iterations", "1"]) == 1
    err = capsys.readouterr().err
    assert "lacks 2 of the net's 4 params (ip2/0, ip2/1)" in err


def test_fine_tuning_still_takes_a_partial_file(net_file, tmp_path):
    weights = saved(net_file, tmp_path, ip2__0=None, ip2__1=None)
    net = Net(str(net_file), seed=3)
    assert copy_weights(net, weights) == ["ip2/0", "ip2/1"]
    Net(str(net_file), weights=str(weights))


def test_test_command_with_complete_weights_runs(net_file, tmp_path, capsys):
    weights = saved(net_file, tmp_path)
    assert main(["test", str(net_file), "--weights", str(weights), "--iterations", "2"]) == 0
    assert "accuracy =" in capsys.readouterr().out


def test_complex_arrays_are_refused(net_file, tmp_path):
    weights = saved(net_file, tmp_path, ip1__1=np.ones(5, np.complex64))
    with pytest.raises(WeightsFileError, match=r"w.npz: array 'ip1/1' is complex"):
        Net(str(net_file), weights=str(weights))


def _zip_bomb(path, key, shape, dtype=np.float32):
    """A .npz whose member `key` is an honest header of `shape` followed by zeros, deflated:
    a few kilobytes on disk that would inflate to the full array."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str,
                                                  "fortran_order": False, "shape": shape})
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo(key + ".npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zero = bytes(1 << 20)
            for _ in range(nbytes >> 20):
                member.write(zero)
            member.write(bytes(nbytes & ((1 << 20) - 1)))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = _zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.npz", "ip1/0", (1 << 12, 1 << 13))
    assert path.stat().st_size < 1 << 20                  # 128 MiB once inflated
    return path


def test_zip_bomb_is_checked_against_the_net_before_decompressing(net_file, bomb):
    net = Net(str(net_file))
    t0 = time.perf_counter()
    with pytest.raises(WeightsFileError, match=r"bomb.npz: 'ip1/0' has shape \[4096, 8192\], "
                                               r"the net expects \[5, 6\]"):
        copy_weights(net, bomb)
    assert time.perf_counter() - t0 < 2


def test_zip_bomb_past_the_memory_budget_is_refused_unread(bomb):
    t0 = time.perf_counter()
    with pytest.raises(WeightsFileError, match=r"declare 134,217,728 bytes or more"):
        load_npz(bomb, max_bytes=64 << 20)
    assert time.perf_counter() - t0 < 2


def test_member_larger_than_its_header_says_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (2,)})
    with zipfile.ZipFile(tmp_path / "lie.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/0.npy", header.getvalue() + bytes(8 + 50_000_000))
    with pytest.raises(WeightsFileError, match=r"lie.npz: array 'a/0' declares shape \[2\]"):
        load_npz(tmp_path / "lie.npz")


def test_fifo_as_weights_is_refused_without_blocking(net_file, tmp_path):
    fifo = tmp_path / "w.fifo"
    os.mkfifo(fifo)
    result = {}
    worker = threading.Thread(target=lambda: result.update(code=main(
        ["test", str(net_file), "--weights", str(fifo)])), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and result["code"] == 1
    with pytest.raises(WeightsFileError, match=r"w.fifo: is a FIFO, not a regular .npz file"):
        load_npz(fifo)


def test_device_as_weights_is_refused():
    with pytest.raises(WeightsFileError, match=r"/dev/zero: is a device"):
        load_npz("/dev/zero")


def test_random_bytes_starting_with_pk(tmp_path):
    rng = np.random.default_rng(0)
    for i, head in enumerate([b"PK", b"PK\x03\x04", b"PK\x05\x06"]):
        path = tmp_path / f"r{i}.npz"
        path.write_bytes(head + rng.bytes(5000))
        with pytest.raises(WeightsFileError, match=r"not a valid .npz/zip file") as err:
            load_npz(path)
        assert "pickle" not in str(err.value)


def test_disk_full_names_the_file(tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "snap" / "x.weights.npz"
    with pytest.raises(OSError) as err:
        save_npz_atomic(target, {"a/0": np.zeros(4)})
    assert str(target) in str(err.value) and "No space left" in str(err.value)
    assert err.value.errno == errno.ENOSPC
    assert list((tmp_path / "snap").iterdir()) == []


# -- MNIST gzip bomb -------------------------------------------------------------------------
def test_gzip_idx_expanding_past_its_header_is_refused_in_pieces(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 10, 28, 28))
        zero = bytes(1 << 20)
        for _ in range(64):                                # 64 MiB past a 7,840-byte payload
            f.write(zero)
    t0 = time.perf_counter()
    with pytest.raises(DataFileError, match=r"holds more than the 7856 bytes its header declares"):
        read_idx(path)
    assert time.perf_counter() - t0 < 5


def test_idx_header_declaring_absurd_size(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 2**31, 2**31, 28))
    with pytest.raises(DataFileError, match=r"its header declares shape"):
        read_idx(path)


def test_truncated_gzip_idx_is_one_line(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 1000) + bytes(1000))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte.gz: "):
        read_idx(path)


def test_npz_data_source_checks_headers_before_inflating(tmp_path):
    from tests.data_helpers import make_data_layer
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (4, 2)})
    with zipfile.ZipFile(tmp_path / "d.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.npy", header.getvalue() + bytes(32 + 20_000_000))
        zf.writestr("label.npy", b"\x93NUMPY garbage")
    with pytest.raises(DataFileError, match=r"d.npz: array 'data' declares shape \[4, 2\]"):
        make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 2})


def test_fifo_as_an_mnist_file(tmp_path):
    os.mkfifo(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte: not a regular file"):
        read_idx(tmp_path / "t10k-images-idx3-ubyte")
