"""Snapshots in CUDA mode are the CPU's files: a state written from the device resumes on
the CPU, a CPU state resumes on the device, and both end where the uninterrupted CPU run
ends (Adam: two history blobs per param; DummyData refills drawn on the host)."""
import numpy as np
import pytest

from layerflow.solvers import Solver
from tests.test_solver_plugins import config, mlp_layers

pytestmark = pytest.mark.cuda


def _cfg(prefix):
    return config(prefix, mlp_layers(batch=4, dim=5, hidden=6, out=3, dropout=0), type="Adam",
                  momentum=0.9, base_lr=0.01, max_iter=4, snapshot=2, display=0)


def test_cuda_snapshot_resumes_on_cpu_and_back(tmp_path):
    ref = Solver(_cfg(tmp_path / "ref"), quiet=True).solve()
    Solver(_cfg(tmp_path / "gpu"), max_iter=2, mode="cuda", quiet=True).solve()
    down = Solver(_cfg(tmp_path / "gpu"), quiet=True)
    down.solve(resume=tmp_path / "gpu_iter_2.state.npz")
    Solver(_cfg(tmp_path / "cpu"), max_iter=2, quiet=True).solve()
    up = Solver(_cfg(tmp_path / "cpu"), mode="cuda", quiet=True)
    up.solve(resume=tmp_path / "cpu_iter_2.state.npz")
    assert up.net.device is not None and down.iter == up.iter == ref.iter == 4
    for run in (down, up):
        for p, q in zip(ref.params, run.params):
            np.testing.assert_allclose(q.blob.cpu_data, p.blob.cpu_data, rtol=1e-4, atol=1e-6)
        for hs, gs in zip(ref.history, run.history):
            for h, g in zip(hs, gs):
                np.testing.assert_allclose(g.cpu_data, h.cpu_data, rtol=1e-4, atol=1e-7)
