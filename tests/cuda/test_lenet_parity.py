"""Whole-net parity in CUDA mode (Numba's simulator without a GPU): a reduced LeNet (conv -
max pool - conv - max pool - ip - relu - ip - softmax loss; 3x3 kernels on 12x12 images, few
channels, batch 2, so that the simulator runs it in seconds)
trained 5 SGD iterations (momentum, weight decay) from the same weights and batches on the
CPU and on the CUDA device agrees to 1e-4 relative in every weight; and a CUDA training
iteration moves only the batch up across the blobs' heads (weights, diffs, activations and
solver history stay on the device; the loss comes down through its kernel's read-back)."""
import numpy as np
import pytest
import yaml

from layerflow.solvers import Solver

pytestmark = pytest.mark.cuda

NET = """
name: lenet-mini
layers:
  - {name: data, type: Input, top: [data, label], shape: [[2, 1, 12, 12], [2]]}
  - {name: conv1, type: Convolution, bottom: data, top: conv1, num_output: 3, kernel_size: 3,
     weight_filler: {type: xavier}, bias_filler: {type: gaussian, std: 0.1}}
  - {name: pool1, type: Pooling, bottom: conv1, top: pool1, pool: MAX, kernel_size: 2, stride: 2}
  - {name: conv2, type: Convolution, bottom: pool1, top: conv2, num_output: 4, kernel_size: 3,
     weight_filler: {type: xavier}, bias_filler: {type: gaussian, std: 0.1}}
  - {name: pool2, type: Pooling, bottom: conv2, top: pool2, pool: MAX, kernel_size: 2, stride: 2}
  - {name: ip1, type: InnerProduct, bottom: pool2, top: ip1, num_output: 8,
     weight_filler: {type: xavier}, bias_filler: {type: gaussian, std: 0.1}}
  - {name: relu1, type: ReLU, bottom: ip1, top: ip1}
  - {name: ip2, type: InnerProduct, bottom: ip1, top: ip2, num_output: 10,
     weight_filler: {type: xavier}}
  - {name: loss, type: SoftmaxWithLoss, bottom: [ip2, label], top: loss}
"""


def _solver(mode, tmp_path):
    cfg = {"solver": {"type": "SGD", "base_lr": 0.05, "momentum": 0.9, "weight_decay": 0.005,
                      "lr_policy": "fixed", "max_iter": 100, "display": 0, "test_interval": 0,
                      "test_iter": 0, "snapshot": 0, "snapshot_after_train": False,
                      "snapshot_prefix": str(tmp_path / mode), "random_seed": 5},
           "net": yaml.safe_load(NET)}
    return Solver(cfg, quiet=True, mode=mode)


class CopyCounter:
    """Counts the device's uploads and downloads (the blobs' head moves)."""

    def __init__(self, device):
        self.ups = self.downs = 0
        up, down = device.upload, device.download

        def upload(host, dev):
            self.ups += 1
            up(host, dev)

        def download(dev, host):
            self.downs += 1
            down(dev, host)

        device.upload, device.download = upload, download


def test_reduced_lenet_cuda_equals_cpu(tmp_path):
    cpu, gpu = _solver("cpu", tmp_path), _solver("cuda", tmp_path)
    assert cpu.net.device is None and gpu.net.device is not None
    for p, q in zip(cpu.params, gpu.params):                # the same starting weights
        np.testing.assert_array_equal(p.blob.cpu_data, q.blob.cpu_data)
    counter = CopyCounter(gpu.net.device)
    rng = np.random.default_rng(0)
    losses = []
    for it in range(5):
        x = rng.normal(size=(2, 1, 12, 12)).astype(np.float32)
        t = rng.integers(0, 10, 2).astype(np.float32)
        ups, downs = counter.ups, counter.downs
        for s in (cpu, gpu):
            s.net.blobs["data"].data[...] = x
            s.net.blobs["label"].data[...] = t
            s.step(1)
        losses.append((float(cpu.net.blobs["loss"].cpu_data),
                       float(gpu.net.blobs["loss"].cpu_data)))
        if it > 0:                  # after the first iteration put the weights on the device
            assert (counter.ups - ups, counter.downs - downs) == (2, 0), \
                "a CUDA iteration moved more than the batch up"
    for a, b in losses:
        assert b == pytest.approx(a, rel=1e-5)
    assert losses[-1][0] != losses[0][0]                      # it trained
    for p, q in zip(cpu.params, gpu.params):
        w, v = p.blob.cpu_data, q.blob.cpu_data
        scale = np.abs(w).max()
        np.testing.assert_allclose(v, w, rtol=1e-4, atol=1e-4 * scale, err_msg=p.key)
    for h, g in zip(cpu.history, gpu.history):               # and the momentum history
        np.testing.assert_allclose(g[0].cpu_data, h[0].cpu_data, rtol=1e-4,
                                   atol=1e-4 * np.abs(h[0].cpu_data).max())


def test_training_iteration_reads_two_numbers(tmp_path, monkeypatch):
    """Everything that comes down in a CUDA training iteration, through any path (blob
    heads or a kernel's read-back): the loss (with its kernel's count of bad labels) and the
    gradients' total sum of squares (the non-finite guard and clipping), not one per param."""
    from numba import cuda
    gpu = _solver("cuda", tmp_path)
    gpu.step(1)                                       # weights and history onto the device
    reads = []
    cls = type(cuda.device_array(1))
    real = cls.copy_to_host

    def copy_to_host(self, *args, **kwargs):
        reads.append(self.size)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "copy_to_host", copy_to_host)
    for _ in range(2):
        reads.clear()
        gpu.step(1)
        assert len(reads) == 2 and reads[-1] == 1, \
            f"a CUDA iteration read back {len(reads)} arrays, of sizes {reads}"
    assert len(gpu.params) == 8


def test_non_finite_guard_names_the_layer_in_cuda_mode(tmp_path):
    """A weight that became inf stops CUDA training with the layer named, as on the CPU,
    before any update; the other weights keep their values."""
    from layerflow.solvers import NonFiniteError
    gpu = _solver("cuda", tmp_path)
    gpu.step(1)
    gpu.net.params["ip2"][0].data[0, 0] = np.inf
    before = [p.blob.cpu_data.copy() for p in gpu.params]
    with pytest.raises(NonFiniteError, match=r"iteration 1: .*layer 'ip2' \(InnerProduct\) "
                                             r"holds non-finite values in param 0"):
        gpu.step(1)
    for p, b in zip(gpu.params, before):
        np.testing.assert_array_equal(p.blob.cpu_data, b)
