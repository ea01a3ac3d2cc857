"""The first run of a new user: data that arrives by itself (from a local file:// mirror,
never the internet), one-line errors offline, logs without control characters when
redirected, TensorBoard event files, and the clearer config messages."""
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.data import fetch as F

from .conftest import ROOT, mnist_root

SMALL_MNIST = """\
name: first-run
solver:
  type: SGD
  base_lr: 0.05
  momentum: 0.9
  lr_policy: fixed
  max_iter: 30
  test_interval: 30
  test_iter: 2
  display: 10
  snapshot: 0
  snapshot_prefix: {prefix}
  random_seed: 1
net:
  layers:
    - {{name: mnist, type: MNISTData, top: [data, label], include: {{phase: TRAIN}},
       split: train, batch_size: 32, transform: {{scale: 0.00390625}}{extra}}}
    - {{name: mnist, type: MNISTData, top: [data, label], include: {{phase: TEST}},
       split: test, batch_size: 50, transform: {{scale: 0.00390625}}{extra}}}
    - {{name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 32,
       weight_filler: {{type: xavier}}}}
    - {{name: relu1, type: ReLU, bottom: ip1, top: ip1}}
    - {{name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 10,
       weight_filler: {{type: xavier}}}}
    - {{name: accuracy, type: Accuracy, bottom: [ip2, label], top: accuracy,
       include: {{phase: TEST}}}}
    - {{name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}}
"""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")     # anything but \t and \n


def small_config(tmp_path, extra=""):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_MNIST.format(prefix=tmp_path / "snapshots" / "small", extra=extra))
    return path


@pytest.fixture
def mirror(tmp_path):
    """A file:// mirror holding mnist/ (links to the shared MNIST files, which are a
    recompressed copy: fetch accepts them because they decompress to the published bytes)."""
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST not found: set LAYERFLOW_DATA to a folder holding mnist/")
    www = tmp_path / "mirror"
    (www / "mnist").mkdir(parents=True)
    for name in F.DATASETS["mnist"]["files"]:
        (www / "mnist" / name).symlink_to(root / "mnist" / name)
    return www


def clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LAYERFLOW_") or k in ("LAYERFLOW_NUM_THREADS",)}
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
               LAYERFLOW_DATA=str(tmp_path / "data"))
    env.update(extra)
    return env


def test_train_fetches_mnist_on_first_use_and_logs_plainly(tmp_path, mirror):
    """An empty $LAYERFLOW_DATA and `layerflow train`: the data arrives by itself, once,
    with a line saying where; the redirected log holds no control characters."""
    config = small_config(tmp_path)
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        rc = subprocess.run([sys.executable, "-m", "layerflow.cli", "train", str(config)],
                            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, timeout=600,
                            env=clean_env(tmp_path, LAYERFLOW_MIRROR=mirror.as_uri())).returncode
    text = log.read_text()
    assert rc == 0, text
    folder = tmp_path / "data" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(F.DATASETS["mnist"]["files"])
    assert text.count("downloading it (once)") == 1
    assert f"MNIST downloaded to {folder}" in text
    assert "Test net output: accuracy" in text
    assert not CONTROL.search(text), repr(CONTROL.search(text).group())
    assert (tmp_path / "snapshots" / "small_iter_30.weights.npz").exists()


def test_offline_error_is_one_line_naming_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAYERFLOW_OFFLINE", "1")
    assert main(["train", str(small_config(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "`layerflow data fetch mnist`" in err
    assert "LAYERFLOW_MIRROR" in err and "LAYERFLOW_OFFLINE is set" in err
    assert str(tmp_path / "data" / "mnist") in err
    assert not (tmp_path / "data" / "mnist").exists()


def test_auto_download_false_keeps_the_layer_from_fetching(tmp_path, monkeypatch, capsys,
                                                         mirror):
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAYERFLOW_MIRROR", mirror.as_uri())
    monkeypatch.delenv("LAYERFLOW_OFFLINE", raising=False)
    config = small_config(tmp_path, extra=", auto_download: false")
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err
    assert "layer 'mnist': MNIST not found" in err and "auto_download: false" in err
    assert "`layerflow data fetch mnist`" in err
    assert not (tmp_path / "data" / "mnist").exists()


def test_a_broken_mirror_says_so_on_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAYERFLOW_MIRROR", (tmp_path / "nowhere").as_uri())
    monkeypatch.delenv("LAYERFLOW_OFFLINE", raising=False)
    assert main(["train", str(small_config(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "could not be downloaded" in err
    assert "`layerflow data fetch mnist`" in err
    assert not (tmp_path / "data" / "mnist").exists()          # no empty folder left behind


def _fake_cifar(n=7):
    """A cifar-10-binary.tar.gz of n records per batch file, and its MD5."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            records = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
            records[:, 0] %= 10
            data = records.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, hashlib.md5(raw).hexdigest()


def test_cifar10_is_fetched_and_unpacked_on_first_use(tmp_path, monkeypatch):
    from layerflow.net import Net
    raw, md5 = _fake_cifar()
    www = tmp_path / "mirror" / "cifar10"
    www.mkdir(parents=True)
    (www / "cifar-10-binary.tar.gz").write_bytes(raw)
    monkeypatch.setitem(F.DATASETS["cifar10"], "files",
                        {"cifar-10-binary.tar.gz": f"md5:{md5}"})
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAYERFLOW_MIRROR", (tmp_path / "mirror").as_uri())
    monkeypatch.delenv("LAYERFLOW_OFFLINE", raising=False)
    net = Net({"layers": [{"name": "c", "type": "CIFAR10Data", "top": ["data", "label"],
                           "split": "test", "batch_size": 7, "prefetch": 0}]}, "test")
    net.forward()
    assert net.blobs["data"].shape == (7, 3, 32, 32)
    folder = tmp_path / "data" / "cifar10"
    assert (folder / "cifar-10-batches-bin" / "test_batch.bin").stat().st_size == 7 * 3073
    assert not (folder / "cifar-10-binary.tar.gz").exists()       # unpacked, then removed


def test_cifar10_archive_with_a_wrong_md5_is_refused(tmp_path, monkeypatch):
    raw, _ = _fake_cifar()
    www = tmp_path / "mirror" / "cifar10"
    www.mkdir(parents=True)
    (www / "cifar-10-binary.tar.gz").write_bytes(raw)
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAYERFLOW_MIRROR", (tmp_path / "mirror").as_uri())
    with pytest.raises(F.DataFileError, match="MD5 .* differs from the published "
                                              "c32a1d4ab5d03f1284b67883e8d87530"):
        F.fetch_dataset("cifar10", progress=False)
    assert not list((tmp_path / "data" / "cifar10").iterdir())


def test_tensorboard_event_files(tmp_path, monkeypatch, mnist_data):
    pytest.importorskip("tensorboardX")
    board = tmp_path / "tb"
    assert main(["-q", "train", str(small_config(tmp_path)), "--max-iter", "20",
                 "--tensorboard", str(board)]) == 0
    events = list(board.glob("events.out.tfevents.*"))
    assert len(events) == 1
    data = events[0].read_bytes()
    assert b"train/loss" in data and b"train/lr" in data
    # the metrics file still gets every record
    metrics = (tmp_path / "snapshots" / "small_metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 2


def test_fetch_progress_is_tqdm_and_silent_when_redirected(tmp_path, mirror, monkeypatch):
    """progress=None: a bar only on a terminal; stderr here is not one."""
    monkeypatch.setenv("LAYERFLOW_MIRROR", mirror.as_uri())
    proc = subprocess.run(
        [sys.executable, "-c", "from layerflow.data.fetch import fetch_dataset as f; "
         "print(f('mnist'))"], capture_output=True, text=True, timeout=300,
        env=clean_env(tmp_path, LAYERFLOW_MIRROR=mirror.as_uri()))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.strip() == str(tmp_path / "data" / "mnist")


def test_fetch_progress_bar_on_request(tmp_path, mirror, capsys):
    F.fetch_dataset("mnist", root=tmp_path / "d", base_url=(mirror / "mnist").as_uri(),
                    progress=True)
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte.gz [####" in err and "4.52k/4.52k" in err



# -- messages ---------------------------------------------------------------------------------
NET = """\
name: tiny
layers:
  - {name: in, type: Input, top: data, shape: [2, 3]}
  - name: ip
    type: InnerProduct
    bottom: data
    top: ip
    num_output: 4
    weight_filler: {type: gaussian, std: 0.1}
"""


def test_yaml_error_names_where_the_unclosed_mapping_began(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text(NET.replace("weight_filler: {type: gaussian, std: 0.1}",
                                "weight_filler: {type: gaussian, std: 0.1\n    bias_term: true"))
    assert main(["time", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{path}:10:14: invalid YAML:" in err                  # where parsing stopped
    assert "the '{' opened on line 9, column 20 is not closed" in err   # where it began


def test_unknown_type_lists_the_nearest_few_names(tmp_path, capsys):
    from layerflow.registry import layer_types
    path = tmp_path / "net.yaml"
    path.write_text(NET.replace("type: InnerProduct", "type: Zorglub"))
    assert main(["time", str(path)]) == 1
    err = capsys.readouterr().err
    assert "unknown layer type 'Zorglub' (nearest: " in err
    shown = err.split("(nearest: ")[1].split(";")[0].split(", ")
    assert len(shown) == 5 and len(layer_types()) > 8
    assert f"{len(layer_types()) - 5} more valid names" in err


def test_build_error_of_an_imported_net_points_at_the_prototxt(tmp_path, capsys):
    proto = (ROOT / "tests" / "data" / "caffe" / "lenet_train_test.prototxt").read_text()
    lines = proto.splitlines()
    at = next(i for i, line in enumerate(lines) if 'bottom: "pool1"' in line)
    lines[at] = lines[at].replace("pool1", "pool9")
    src = tmp_path / "bad.prototxt"
    src.write_text("\n".join(lines) + "\n")
    assert main(["import-caffe", str(src), "-o", str(tmp_path / "bad.yaml")]) == 0
    capsys.readouterr()
    assert main(["time", str(tmp_path / "bad.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert "unknown bottom blob 'pool9'" in err
    assert err.endswith(f"(written in {src}:{at + 1})")


def test_draw_shows_params_as_written(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    assert main(["draw", str(path), "-o", str(tmp_path / "net.dot")]) == 0
    dot = (tmp_path / "net.dot").read_text()
    assert "weight_filler: {type: gaussian, std: 0.1}" in dot and "num_output: 4" in dot
    assert "FillerSpec" not in dot and "shape: [2, 3]" in dot


def test_training_bar_only_on_a_terminal(tmp_path, mnist_data):
    """The training bar (tqdm) draws on a terminal and leaves log lines alone: stderr on an
    80-column pseudo-terminal gets the bar, the redirected stdout only plain lines."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    config = small_config(tmp_path)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    log = tmp_path / "train.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "layerflow.cli", "train", str(config),
                                 "--max-iter", "40"], stdout=out, stderr=slave, cwd=tmp_path,
                                env=clean_env(tmp_path, LAYERFLOW_DATA=str(mnist_data)))
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=600) == 0, seen.decode(errors="replace")
    os.close(master)
    assert b"/40 [" in seen and b"loss" in seen and b"it/s" in seen
    text = log.read_text()
    assert "Iteration 40" in text or "Optimization Done" in text
    assert not CONTROL.search(text)


def test_tensorboard_without_tensorboardx_says_what_to_install(tmp_path, monkeypatch, capsys,
                                                               mnist_data):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)      # as if not installed
    assert main(["train", str(small_config(tmp_path)), "--max-iter", "1",
                 "--tensorboard", str(tmp_path / "tb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("layerflow: error: --tensorboard needs the tensorboardX package: pip install "
                   "'layerflow[tensorboard]' (or pip install tensorboardX)")
