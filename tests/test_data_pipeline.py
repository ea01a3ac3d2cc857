"""The batch pipeline: shuffling per epoch from the seed, sharding, prefetch that changes
nothing, and a cursor that resumes exactly (alone and through the Solver's snapshots)."""
import copy

import numpy as np
import pytest
import yaml

from tests.data_helpers import batches, make_data_layer

N = 10


@pytest.fixture
def npz(tmp_path):
    x = np.random.default_rng(0).uniform(0, 255, (N, 2, 6, 6)).astype(np.float32)
    np.savez(tmp_path / "d.npz", data=x, label=np.arange(N) % 3)
    return str(tmp_path / "d.npz")


AUG = [{"crop": 4}, {"mirror": True}, {"rotate": 15}, {"scale": 0.01}]


def layer_for(npz, prefetch, seed=7, batch=4, **extra):
    return make_data_layer("NPZData", {"source": npz, "batch_size": batch, "transform": AUG,
                                       "prefetch": prefetch, "keys": ["data", "label"],
                                       **extra}, seed=seed)


def test_each_epoch_is_a_fresh_permutation(npz):
    np.savez(npz, label=np.arange(N, dtype=np.float32), data=np.zeros(N))
    layer, top = make_data_layer("NPZData", {"source": npz, "batch_size": 5, "keys": ["label"]},
                                 num_top=1, seed=3)
    seen = np.concatenate([b[0] for b in batches(layer, top, 6)]).reshape(3, N)
    for epoch in seen:
        assert sorted(epoch.tolist()) == list(range(N))
    assert len({tuple(e) for e in seen}) == 3
    again, top2 = make_data_layer("NPZData", {"source": npz, "batch_size": 5, "keys": ["label"]},
                                  num_top=1, seed=3)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches(again, top2, 6)]),
                                  seen.ravel())


@pytest.mark.parametrize("depth", [1, 3])
def test_prefetch_gives_the_synchronous_batches(npz, depth):
    sync, t1 = layer_for(npz, 0)
    pre, t2 = layer_for(npz, depth)
    for a, b in zip(batches(sync, t1, 9), batches(pre, t2, 9)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert sync.rng.bit_generator.state == pre.rng.bit_generator.state
    pre.close()


@pytest.mark.parametrize("prefetch", [0, 3])
def test_cursor_resumes_exactly(npz, prefetch):
    layer, top = layer_for(npz, prefetch)
    batches(layer, top, 4)                      # into the second epoch
    state = copy.deepcopy(layer.state())
    rng_state = copy.deepcopy(layer.rng.bit_generator.state)
    assert "rng" not in state
    expected = batches(layer, top, 6)
    other, top2 = layer_for(npz, prefetch, seed=99)   # a different seed: the state decides
    batches(other, top2, 1)
    other.rng.bit_generator.state = rng_state          # as the Solver does, then set_state
    other.set_state({k: np.asarray(v) for k, v in state.items()})
    for a, b in zip(expected, batches(other, top2, 6)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    layer.close()
    other.close()


def test_sharding_splits_each_epoch(npz):
    np.savez(npz, label=np.arange(N, dtype=np.float32))
    seen = []
    for rank in range(2):
        layer, top = make_data_layer("NPZData", {"source": npz, "batch_size": 5,
                                                 "keys": ["label"]}, num_top=1, seed=5)
        layer.set_shard(rank, 2)
        seen.append(np.concatenate([b[0] for b in batches(layer, top, 2)]))
        assert layer.state()["world_size"] == 2
    assert sorted(np.concatenate([seen[0][:5], seen[1][:5]]).tolist()) == list(range(N))
    with pytest.raises(ValueError, match="rank 2"):
        layer.set_shard(2, 2)


def test_worker_error_reaches_the_caller(tmp_path):
    np.savez(tmp_path / "d.npz", data=np.zeros((4, 3)), label=np.array([0, 1, 2, 5]))
    layer, top = make_data_layer("NPZData", {"source": str(tmp_path / "d.npz"), "batch_size": 2,
                                             "num_classes": 3, "prefetch": 2}, phase="TEST")
    batches(layer, top, 1)
    with pytest.raises(ValueError, match=r"d\.npz, record 3: label 5 is not a class id"):
        batches(layer, top, 1)
    layer.close()


def _config(tmp_path, npz, prefetch):
    net = {"layers": [
        {"name": "data", "type": "NPZData", "top": ["data", "label"], "source": npz,
         "batch_size": 4, "transform": AUG, "prefetch": prefetch, "keys": ["data", "label"]},
        {"name": "ip", "type": "InnerProduct", "bottom": "data", "top": "ip", "num_output": 3,
         "weight_filler": {"type": "xavier"}},
        {"name": "loss", "type": "SoftmaxWithLoss", "bottom": ["ip", "label"], "top": "loss"}]}
    solver = {"type": "SGD", "base_lr": 0.1, "momentum": 0.9, "max_iter": 9,
              "snapshot_prefix": str(tmp_path / f"snap{prefetch}" / "s"), "random_seed": 3}
    path = tmp_path / f"cfg{prefetch}.yaml"
    path.write_text(yaml.safe_dump({"solver": solver, "net": net}))
    return str(path)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_solver_snapshot_resumes_like_an_unbroken_run(tmp_path, npz, prefetch):
    from layerflow.solvers import Solver
    cfg = _config(tmp_path, npz, prefetch)
    unbroken = Solver(cfg, quiet=True)
    unbroken.step(4)
    _, state = unbroken.snapshot()
    unbroken.step(5)                            # crosses epoch boundaries (10 records, batch 4)
    resumed = Solver(cfg, quiet=True)
    resumed.step(1)                             # a different position, overwritten by restore
    resumed.restore(state)
    resumed.step(5)
    for a, b in zip(unbroken.params, resumed.params):
        np.testing.assert_array_equal(a.blob.data, b.blob.data)
    np.testing.assert_array_equal(unbroken.net.blobs["data"].data,
                                  resumed.net.blobs["data"].data)
