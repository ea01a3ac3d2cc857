"""CUDA mode's batch upload (data/device_feed.py): a file-backed data layer's batches come
from pinned host slots, go up on a stream of their own one iteration ahead, and are the
CPU's batches in the CPU's order, across a snapshot and resume too."""
import numpy as np
import pytest

from layerflow.solvers import Solver
from tests.test_solver_plugins import config, mlp_layers

pytestmark = pytest.mark.cuda


def _cfg(tmp_path, prefix, **solver):
    rng = np.random.default_rng(3)
    path = tmp_path / "set.npz"
    if not path.exists():
        np.savez(path, data=rng.normal(size=(11, 5)).astype(np.float32),
                 target=rng.normal(size=(11, 3)).astype(np.float32))
    layers = mlp_layers(batch=4, dim=5, hidden=6, out=3, dropout=0)
    layers[0] = {"name": "data", "type": "NPZData", "top": ["data", "target"],
                 "source": str(path), "batch_size": 4, "shuffle": True}
    return config(tmp_path / prefix, layers, max_iter=6, snapshot=3, display=0, **solver)


class Batches:
    """Records the batch each iteration's data layer hands over (read back on the host)."""

    def __init__(self):
        self.seen = []

    def after_forward(self, net, i):
        if i == 0:
            self.seen.append(net.blobs["data"].cpu_data.copy())


def test_cuda_batches_are_the_cpu_batches_and_go_up_async(tmp_path):
    cpu = Solver(_cfg(tmp_path, "cpu"), quiet=True)
    gpu = Solver(_cfg(tmp_path, "gpu"), mode="cuda", quiet=True)
    device = gpu.net.device
    calls = {"async": 0, "pinned": 0}
    upload_async, pinned = device.upload_async, device.pinned

    def counted_upload(host, dev, stream):
        calls["async"] += 1
        upload_async(host, dev, stream)

    def counted_pinned(shape, dtype):
        calls["pinned"] += 1
        return pinned(shape, dtype)

    device.upload_async, device.pinned = counted_upload, counted_pinned
    try:
        seen = [cpu.net.add_hook(Batches()), gpu.net.add_hook(Batches())]
        cpu.solve()
        gpu.solve()
    finally:
        del device.upload_async, device.pinned
    assert len(seen[0].seen) == len(seen[1].seen) == 6
    for a, b in zip(*(s.seen for s in seen)):
        np.testing.assert_array_equal(b, a)
    assert calls["pinned"] == 2 * 3                       # 3 prefetch slots, 2 tops each
    assert calls["async"] == 2 * 7                        # every batch, and one ahead
    for p, q in zip(cpu.params, gpu.params):
        np.testing.assert_allclose(q.blob.cpu_data, p.blob.cpu_data, rtol=1e-4, atol=1e-6)


def test_cuda_resume_continues_the_batch_stream(tmp_path):
    ref = Solver(_cfg(tmp_path, "ref"), mode="cuda", quiet=True)
    ref.solve()
    Solver(_cfg(tmp_path, "run"), max_iter=3, mode="cuda", quiet=True).solve()
    again = Solver(_cfg(tmp_path, "run"), mode="cuda", quiet=True)
    again.solve(resume=tmp_path / "run_iter_3.state.npz")
    assert again.iter == ref.iter == 6
    for p, q in zip(ref.params, again.params):
        np.testing.assert_array_equal(q.blob.cpu_data, p.blob.cpu_data)
