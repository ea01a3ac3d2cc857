"""`layerflow predict`: a small MLP trained here classifies MNIST test digits saved as PNG;
inputs as images, .npy and dataset records agree; the TEST transform, colour, resizing,
batching, --top, --json and a labels file do what they say."""
import json

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.net import Net
from layerflow.predict import Predictor

PIL = pytest.importorskip("PIL.Image")

MLP = """\
name: predict-mlp
labels: {labels}
solver:
  type: SGD
  base_lr: 0.1
  momentum: 0.9
  lr_policy: inv
  gamma: 0.001
  power: 0.75
  max_iter: 1200
  test_interval: 0
  test_iter: 0
  display: 0
  snapshot: 0
  snapshot_prefix: {prefix}
  random_seed: 1
net:
  layers:
    - {{name: mnist, type: MNISTData, top: [data, label], include: {{phase: TRAIN}},
       split: train, batch_size: 64, transform: {{scale: 0.00390625}}}}
    - {{name: mnist, type: MNISTData, top: [data, label], include: {{phase: TEST}},
       split: test, batch_size: 40, transform: {{scale: 0.00390625}}}}
    - {{name: ip1, type: InnerProduct, bottom: data, top: ip1, num_output: 256,
       weight_filler: {{type: xavier}}}}
    - {{name: relu1, type: ReLU, bottom: ip1, top: ip1}}
    - {{name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 10,
       weight_filler: {{type: xavier}}}}
    - {{name: accuracy, type: Accuracy, bottom: [ip2, label], top: accuracy,
       include: {{phase: TEST}}}}
    - {{name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}}
"""
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(config, weights, folder of 100 test digits as PNG, their labels): an MLP trained
    for 1,200 iterations (about 1.3 epochs; a few seconds)."""
    from .conftest import mnist_root
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST not found: set LAYERFLOW_DATA to a folder holding mnist/")
    mp = pytest.MonkeyPatch()
    mp.setenv("LAYERFLOW_DATA", str(root))
    tmp = tmp_path_factory.mktemp("predict")
    (tmp / "digits.txt").write_text("\n".join(NAMES) + "\n")
    config = tmp / "mlp.yaml"
    config.write_text(MLP.format(labels="digits.txt", prefix=tmp / "snap" / "mlp"))
    assert main(["-q", "train", str(config)]) == 0
    from layerflow.data.mnist import load_mnist
    images, labels = load_mnist("test")
    pngs = tmp / "png"
    pngs.mkdir()
    for i in range(100):
        PIL.fromarray(images[i].reshape(28, 28)).save(pngs / f"{i:03d}.png")
    yield config, tmp / "snap" / "mlp_iter_1200.weights.npz", pngs, labels[:100]
    mp.undo()


def test_predict_reads_png_digits(trained, capsys):
    config, weights, pngs, labels = trained
    files = sorted(str(p) for p in pngs.glob("*.png"))
    assert main(["predict", str(config), "--weights", str(weights), "--top", "2",
                 "--json", *files]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in results] == files
    predicted = np.array([r["top"][0]["class"] for r in results])
    accuracy = (predicted == labels).mean()
    assert accuracy >= 0.97, accuracy
    first = results[0]["top"]
    assert len(first) == 2 and first[0]["name"] == NAMES[first[0]["class"]]
    assert first[0]["probability"] >= first[1]["probability"]


def test_images_npy_and_dataset_records_agree(trained, tmp_path):
    """The same 50 digits as PNG files, as one .npy stack and as mnist:test[0:50] give the
    same probabilities, batch by batch (batch 16: a partial last batch)."""
    config, weights, pngs, labels = trained
    from layerflow.data.mnist import load_mnist
    images, _ = load_mnist("test")
    np.save(tmp_path / "stack.npy", images[:50].reshape(50, 1, 28, 28))
    p = Predictor(config, weights, batch=16)
    by_png = p.predict(sorted(str(f) for f in pngs.glob("*.png"))[:50], top=10)
    by_npy = p.predict([tmp_path / "stack.npy"], top=10)
    by_set = p.predict(["mnist:test[0:50]"], top=10)
    for a, b, c in zip(by_png, by_npy, by_set):
        assert a.top == b.top == c.top
    assert [r.label for r in by_set] == labels[:50].tolist()
    assert by_npy[3].name.endswith("stack.npy[3]")


def test_probabilities_match_the_test_net(trained, monkeypatch):
    """predict's deploy net, fed through the TEST transform, gives what the config's own
    TEST net gives on the same records."""
    config, weights, _, _ = trained
    net = Net(str(config), "test", weights=str(weights))
    net.forward()
    ip2 = net.blobs["ip2"].data.astype(np.float64)
    expected = np.exp(ip2 - ip2.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    got = Predictor(config, weights).probabilities(
        np.stack([r for _, r, _ in Predictor(config, weights).load(["mnist:test[0:40]"])]))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_text_output_names_classes_and_scores_labelled_inputs(trained, capsys):
    config, weights, _, _ = trained
    assert main(["predict", str(config), "--weights", str(weights), "mnist:test[0:3]",
                 "--top", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("mnist:test[0]: seven (") and "[label 7" in out[0]
    assert out[-1].startswith("top-1 accuracy ") and out[-1].count("/3") == 1


def test_transform_crop_mean_scale_and_colour(tmp_path):
    """A colour net whose TEST data layer crops, subtracts a mean and scales: a PNG of
    another size is resized to the record, then transformed as the layer says."""
    net_yaml = tmp_path / "net.yaml"
    net_yaml.write_text(
        "layers:\n"
        "  - {name: d, type: ImageFolderData, top: [data, label], root: imgs, new_height: 12,\n"
        "     new_width: 10, batch_size: 4,\n"
        "     transform: {crop_size: 8, mean_value: [10, 20, 30], scale: 0.5}}\n"
        "  - {name: ip, type: InnerProduct, bottom: data, top: ip, num_output: 5,\n"
        "     weight_filler: {type: gaussian, std: 0.05}}\n"
        "  - {name: prob, type: Softmax, bottom: ip, top: prob}\n")
    ref = Net({"layers": [{"name": "d", "type": "Input", "top": "data",
                           "shape": [1, 3, 8, 8]},
                          {"name": "ip", "type": "InnerProduct", "bottom": "data", "top": "ip",
                           "num_output": 5, "weight_filler": {"type": "gaussian", "std": 0.05}},
                          {"name": "prob", "type": "Softmax", "bottom": "ip", "top": "prob"}]},
              "test", seed=3)
    ref.save(tmp_path / "w.npz")
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (30, 25, 3), dtype=np.uint8)
    PIL.fromarray(pixels).save(tmp_path / "c.png")
    resized = np.asarray(PIL.fromarray(pixels).resize((10, 12), PIL.BILINEAR),
                         np.float32).transpose(2, 0, 1)
    x = (resized[:, 2:10, 1:9] - np.array([10, 20, 30], np.float32)[:, None, None]) * 0.5
    ref.blobs["data"].data[...] = x[None]
    ref.forward()
    p = Predictor(net_yaml, tmp_path / "w.npz")
    assert p.record_shape == (3, 12, 10)
    [r] = p.predict([tmp_path / "c.png"], top=5)
    probs = dict((c, q) for c, _, q in r.top)
    np.testing.assert_allclose([probs[c] for c in range(5)], ref.blobs["prob"].data[0],
                               rtol=1e-4)


def test_grey_image_for_a_colour_net_and_bad_inputs(tmp_path, capsys):
    net_yaml = tmp_path / "net.yaml"
    net_yaml.write_text("layers:\n"
                        "  - {name: in, type: Input, top: data, shape: [2, 3, 4, 4]}\n"
                        "  - {name: ip, type: InnerProduct, bottom: data, top: ip,"
                        " num_output: 3}\n")
    Net(str(net_yaml), "test").save(tmp_path / "w.npz")
    PIL.fromarray(np.full((6, 6), 200, np.uint8)).save(tmp_path / "g.png")
    [r] = Predictor(net_yaml, tmp_path / "w.npz").predict([tmp_path / "g.png"], top=3)
    assert len(r.top) == 3 and abs(sum(q for *_, q in r.top) - 1) < 1e-6
    np.save(tmp_path / "bad.npy", np.zeros((2, 5, 5), np.float32))
    assert main(["predict", str(net_yaml), "--weights", str(tmp_path / "w.npz"),
                 str(tmp_path / "bad.npy")]) == 1
    err = capsys.readouterr().err
    assert "bad.npy: array of shape [2, 5, 5]; the net takes records of shape [3, 4, 4]" in err
    assert main(["predict", str(net_yaml), "--weights", str(tmp_path / "w.npz"),
                 str(tmp_path / "missing.png")]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err
