"""The runtime (issue 10): blobs with device heads, dispatch by mode with the CPU fallback,
one record per param, explicit thread settings per net, the one layer loop with hooks.

The device here is a fake (tests/fake_device.py) that counts its copies, so that CPU tests
can check where data moves; GPU-twin layers are written with numpy on its arrays."""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from layerflow import Net
from layerflow.config.yaml_loader import load_yaml_text
from layerflow.blob import AT_DEVICE, AT_HOST, SYNCED, UNINIT, Blob
from layerflow.kernels.cpu import threads
from layerflow.layer import Layer
from layerflow.layers.euclidean_loss import EuclideanLoss
from layerflow.layers.inner_product import InnerProduct
from layerflow.layers.tanh import TanH
from layerflow.runtime import Runtime
from layerflow.solvers import Solver

from .fake_device import FAKE, FakeDevice, FakeRuntime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- GPU twins written with numpy on the fake device's arrays ------------------------------
class GpuInnerProduct(InnerProduct):
    type_name = "InnerProduct"

    def forward_gpu(self, bottom, top):
        x = bottom[0].gpu_data.reshape(self.M, self.K)
        y = top[0].mutable_gpu_data.reshape(self.M, -1)
        np.matmul(x, self.blobs[0].gpu_data.T, out=y)
        y += self.blobs[1].gpu_data

    def backward_gpu(self, top, propagate_down, bottom):
        dy = top[0].gpu_diff.reshape(self.M, -1)
        x = bottom[0].gpu_data.reshape(self.M, self.K)
        self.blobs[0].mutable_gpu_diff[...] += dy.T @ x
        self.blobs[1].mutable_gpu_diff[...] += dy.sum(axis=0)
        if propagate_down[0]:
            bottom[0].mutable_gpu_diff.reshape(self.M, self.K)[...] = dy @ self.blobs[0].gpu_data


class GpuEuclideanLoss(EuclideanLoss):
    type_name = "EuclideanLoss"

    def forward_gpu(self, bottom, top):
        d = bottom[0].gpu_data.reshape(-1) - bottom[1].gpu_data.reshape(-1)
        top[0].mutable_gpu_data[...] = (d * d).sum() / (2.0 * bottom[0].shape[0])

    def backward_gpu(self, top, propagate_down, bottom):
        d = bottom[0].gpu_data - bottom[1].gpu_data
        scale = top[0].gpu_diff.reshape(-1)[0] / bottom[0].shape[0]
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                bottom[i].mutable_gpu_diff[...] = sign * scale * d


class GpuForwardTanH(TanH):
    """A GPU forward and only the CPU backward."""
    type_name = "TanH"

    def forward_gpu(self, bottom, top):
        np.tanh(bottom[0].gpu_data, out=top[0].mutable_gpu_data)


class CpuOnlyTanH(Layer):
    """TanH's CPU pair alone (the built-in TanH has a GPU twin): the fallback's case."""
    type_name = "TanH"
    in_place = True
    forward_cpu = TanH.forward_cpu
    backward_cpu = TanH.backward_cpu


class Double(Layer):
    """A plug-in as DESIGN shows them: forward/backward on host arrays only."""

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * 2

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * 2


def net_yaml(*args, **kwargs):
    return load_yaml_text(net_text(*args, **kwargs))


def net_text(middle="TanH", ip="tests.test_runtime:GpuInnerProduct",
             loss="tests.test_runtime:GpuEuclideanLoss", force_backward=False):
    return f"""
name: fake-gpu
force_backward: {str(force_backward).lower()}
layers:
  - {{name: in, type: Input, top: [x, t], shape: [[4, 6], [4, 3]]}}
  - {{name: ip1, type: "{ip}", bottom: x, top: h, num_output: 5,
     weight_filler: {{type: gaussian, std: 0.5}}, bias_filler: {{type: gaussian, std: 0.5}}}}
  - {{name: mid, type: "{middle}", bottom: h, top: a}}
  - {{name: ip2, type: "{ip}", bottom: a, top: y, num_output: 3,
     weight_filler: {{type: gaussian, std: 0.5}}, bias_filler: {{type: gaussian, std: 0.5}}}}
  - {{name: loss, type: "{loss}", bottom: [y, t], top: loss}}
"""


def _run(net, x, t):
    net.blobs["x"].data[...] = x
    net.blobs["t"].data[...] = t
    net.clear_param_diffs()
    loss = net.forward_backward()
    grads = [p.blob.cpu_diff.copy() for p in net.learnable_params()]
    return loss, grads, net.blobs["x"].cpu_diff.copy()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 6)), rng.normal(size=(4, 3))


def test_blob_heads_move_only_the_stale_side():
    dev = FakeDevice()
    b = Blob((2, 3), np.float64, device=dev)
    assert b.heads() == (UNINIT, UNINIT)
    b.data[...] = 1                          # host write
    assert b.heads()[0] == AT_HOST
    assert float(b.gpu_data.sum()) == 6      # device read: one upload
    assert b.heads()[0] == SYNCED and dev.copies() == (1, 0)
    b.gpu_data                               # already synced: nothing moves
    b.cpu_data
    assert dev.copies() == (1, 0)
    b.mutable_gpu_data[...] = 2              # device write: host goes stale
    assert b.heads()[0] == AT_DEVICE
    assert b.cpu_data.sum() == 12 and dev.copies() == (1, 1)
    b.zero_diff()                            # zeroed where it will be used, no copy
    assert b.heads()[1] == AT_DEVICE and not b.cpu_diff.any() and dev.copies() == (1, 2)


def test_blob_without_device_is_plain_host_arrays():
    b = Blob((2, 3))
    assert b.device is None and b.data is b.data and b.flat_data.base is not None
    with pytest.raises(RuntimeError, match="no device"):
        b.gpu_data


def test_blob_refuses_a_size_no_machine_has():
    with pytest.raises(ValueError, match=r"blob 'huge' of shape \[1000000, 1000000, 1000\]"):
        Blob((10**6, 10**6, 1000), name="huge")


@pytest.mark.parametrize("middle", ["TanH", "tests.test_runtime:CpuOnlyTanH",
                                    "tests.test_runtime:GpuForwardTanH",
                                    "tests.test_runtime:Double"])
def test_fake_cuda_net_equals_cpu_net(middle):
    """A middle layer with no GPU twin (or only a GPU forward, or a plug-in with plain
    forward/backward) between GPU layers: same loss and gradients as pure CPU mode."""
    x, t = _data()
    cpu = Net(net_yaml(middle), seed=3, dtype=np.float64, runtime=FakeRuntime())
    gpu = Net(net_yaml(middle), seed=3, dtype=np.float64, runtime=FakeRuntime(mode="cuda"))
    assert gpu.device is FAKE and cpu.device is None
    for _ in range(2):
        ref, got = _run(cpu, x, t), _run(gpu, x, t)
        assert got[0] == pytest.approx(ref[0], rel=1e-12)
        for a, b in zip(got[1], ref[1]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fake_cuda_iteration_copies_only_what_changed_sides():
    """Per iteration: x and t go up, the CPU-only TanH brings its bottom down and its top
    up in forward, its top diff down and bottom diff up in backward, and the loss comes
    down. Weights, param diffs (cleared on the device) and everything else stay put."""
    x, t = _data()
    net = Net(net_yaml("tests.test_runtime:CpuOnlyTanH"), seed=3, dtype=np.float64,
              runtime=FakeRuntime(mode="cuda"))
    _run(net, x, t)                          # the first iteration also moves the weights up
    before = FAKE.copies()
    _run(net, x, t)
    ups, downs = FAKE.copies()[0] - before[0], FAKE.copies()[1] - before[1]
    # and _run reads the 4 param diffs back for the comparison (x's diff never left the host)
    assert (ups, downs) == (4, 3 + 4)


def test_solver_on_fake_device_trains_as_on_cpu(tmp_path):
    cfg = {"solver": {"type": "SGD", "base_lr": 0.1, "momentum": 0.9, "weight_decay": 0.01,
                      "max_iter": 0, "snapshot_prefix": f"{tmp_path}/s", "random_seed": 1},
           "net": net_yaml()}
    x, t = _data(1)
    solvers = [Solver(cfg, quiet=True, dtype=np.float64, runtime=FakeRuntime(mode=m))
               for m in ("cpu", "cuda")]
    for s in solvers:
        s.net.blobs["x"].data[...] = x
        s.net.blobs["t"].data[...] = t
        s.step(3)
    assert solvers[1].history[0][0].heads()[0] == AT_DEVICE   # history stays on the device
    for p, q in zip(solvers[0].params, solvers[1].params):
        np.testing.assert_allclose(q.blob.cpu_data, p.blob.cpu_data, rtol=1e-12)


def test_params_are_records_owned_by_the_net():
    net = Net(net_yaml(ip="InnerProduct", loss="EuclideanLoss"), seed=1)
    params = net.learnable_params()
    assert [p.key for p in params] == ["ip1/0", "ip1/1", "ip2/0", "ip2/1"]
    assert params[1].lr_mult == 1.0 and params[0].shared_from is None
    assert params[0].blob is net.params["ip1"][0]


class ThreadProbe(Layer):
    """Records the thread settings in force while it runs."""
    seen = []

    def forward(self, bottom, top):
        from threadpoolctl import threadpool_info
        blas = [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"]
        ThreadProbe.seen.append((numba.get_num_threads(), blas[0] if blas else None))
        top[0].data[...] = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        pass


def test_two_nets_keep_their_own_thread_settings():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 CPUs")
    yaml = load_yaml_text("layers:\n  - {name: in, type: Input, top: x, shape: [2, 3]}\n"
                          "  - {name: probe, type: 'tests.test_runtime:ThreadProbe', "
                          "bottom: x, top: y}\n")
    one = Net(yaml, runtime=Runtime(threads=1, blas_threads=1))
    two = Net(yaml, runtime=Runtime(threads=2, blas_threads=2))
    ThreadProbe.seen.clear()
    for net in (one, two, one, two):
        net.forward()
    assert ThreadProbe.seen == [(1, 1), (2, 2), (1, 1), (2, 2)]


def test_runtime_from_environment_and_net_policy():
    rt = Runtime.create(env={"LAYERFLOW_NUM_THREADS": "3"})
    assert rt.threads == 3 and rt.blas_threads is None
    assert rt.for_net(own_threads=True).blas_threads == 1
    assert rt.for_net(own_threads=False).blas_threads == 3
    assert Runtime.create(env={"LAYERFLOW_BLAS_THREADS": "2"}).for_net(True).blas_threads == 2
    assert Runtime.create(threads=4, local_size=2, env={}).threads == 4
    with pytest.raises(ValueError, match="mode must be"):
        Runtime.create(mode="tpu")
    threads.apply(Runtime.create())


class Recorder:
    def __init__(self):
        self.events = []

    def before_forward(self, net, i):
        self.events.append(("f", net.layers[i].name))

    def after_backward(self, net, i):
        self.events.append(("b", net.layers[i].name))


def test_hooks_see_every_layer_pass_in_order():
    net = Net(net_yaml(ip="InnerProduct", loss="EuclideanLoss"), seed=1)
    rec = net.add_hook(Recorder())
    net.forward_backward()
    names = [l.name for l in net.layers]
    assert rec.events == [("f", n) for n in names] + \
        [("b", n) for n in reversed(names) if n != "in"]
    net.remove_hook(rec)
    net.forward()
    assert len(rec.events) == 2 * len(names) - 1


def test_mode_cuda_without_a_device_is_one_line(tmp_path):
    """Without a GPU (and without the simulator) `--mode cuda` stops with one line."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = ROOT
    cfg = tmp_path / "c.yaml"
    (tmp_path / "net.yaml").write_text(net_text(ip="InnerProduct", loss="EuclideanLoss"))
    cfg.write_text("solver: {max_iter: 1, mode: cuda}\nnet: net.yaml\n")
    code = ("import sys\n"
            "try:\n import numba_cuda\nexcept ImportError: pass\n"
            "if len(sys.argv) > 1: sys.modules['numba_cuda'] = None\n"
            "from layerflow.cli import main; sys.exit(main(['train', sys.argv[-1]]))\n")
    for hide in (False, True):
        args = [sys.executable, "-W", "ignore", "-c", code] + ["hide"] * hide + [str(cfg)]
        out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=120)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 1 and len(lines) == 1, out.stderr
        assert ("numba-cuda" in lines[0]) if hide else ("CUDA device" in lines[0] or
                                                        "numba-cuda" in lines[0])
