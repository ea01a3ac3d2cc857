"""Guard rails: a non-finite loss or gradient stops training with the iteration and the
layer, before the weights change and without touching the last snapshot; debug_info prints
Caffe's per-layer norms and names the exact layer even inside an in-place chain."""
import json
import logging
import re

import numpy as np
import pytest

from layerflow.cli import main
from layerflow.io.weights import load_npz
from layerflow.solvers import NonFiniteError, Solver
from layerflow.solvers.base import find_snapshots

from .test_solver_plugins import PLUGIN, config, mlp_layers


def nan_layers(at, in_place=False, **kw):
    layers = mlp_layers()
    layer = {"name": "nan", "type": f"{PLUGIN}:NaNAt", "bottom": "ip1",
             "top": "ip1" if in_place else "ip1n", "at": at, **kw}
    layers.insert(2, layer)
    if not in_place:
        for l in layers[3:]:
            l["bottom"] = ["ip1n" if b == "ip1" else b for b in
                           ([l["bottom"]] if isinstance(l["bottom"], str) else l["bottom"])]
            if l.get("top") == "ip1":
                l["top"] = "ip1n"
    return layers


def test_injected_nan_stops_with_layer_and_iteration(tmp_path):
    cfg = config(tmp_path / "n", layers=nan_layers(at=5), snapshot=2, max_iter=10)
    s = Solver(cfg, quiet=True)
    with pytest.raises(NonFiniteError) as err:
        s.solve()
    msg = str(err.value)
    assert err.value.iteration == 5 and err.value.layer == "nan"
    assert "iteration 5" in msg and "layer 'nan' (NaNAt)" in msg and "top 'ip1n'" in msg
    assert "written in place by nan, relu1" in msg       # ReLU runs in place on its output
    assert str(tmp_path / "n_iter_4.state.npz") in msg
    # the last good snapshot is intact and nothing was written after it
    assert sorted(find_snapshots(tmp_path / "n")) == [2, 4]
    assert int(load_npz(tmp_path / "n_iter_4.state.npz")["iter"]) == 4
    # the weights are those after iteration 4: the bad gradient was never applied
    ref = Solver(config(tmp_path / "r", layers=nan_layers(at=-1), max_iter=10), quiet=True)
    ref.step(5)
    for a, b in zip(s.params, ref.params):
        np.testing.assert_array_equal(a.blob.data, b.blob.data)


def test_injected_inf_in_backward_names_the_gradient(tmp_path):
    cfg = config(tmp_path / "g", layers=nan_layers(at=3, in_backward=True,
                                                   value=float("inf")))
    with pytest.raises(NonFiniteError,
                       match=r"iteration 3: non-finite gradient .*layer 'nan'") as err:
        Solver(cfg, quiet=True).solve()
    assert err.value.layer == "nan" and "bottom 'ip1'" in str(err.value)


def test_in_place_chain_is_reported_and_debug_info_names_the_layer(tmp_path):
    cfg = config(tmp_path / "c", layers=nan_layers(at=2, in_place=True))
    with pytest.raises(NonFiniteError) as err:
        Solver(cfg, quiet=True).solve()
    assert "written in place by ip1, nan, relu1" in str(err.value)
    cfg["solver"].update(debug_info=True, snapshot=2)
    with pytest.raises(NonFiniteError) as err:
        Solver(cfg, quiet=True).solve()
    assert err.value.layer == "nan" and "iteration 2: non-finite loss" in str(err.value)
    assert "layer 'nan' (NaNAt) produced a non-finite output in top 'ip1'" in str(err.value)
    assert "c_iter_2.state.npz, is left as it was" in str(err.value)


def test_cli_prints_one_line_and_exits_1(tmp_path, capsys):
    path = tmp_path / "nan.yaml"
    path.write_text(json.dumps(config(tmp_path / "n", layers=nan_layers(at=4))))
    assert main(["-q", "train", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layerflow: error: iteration 4: non-finite loss")
    assert "layer 'nan'" in err and "Traceback" not in err


def test_debug_info_prints_caffe_norms_and_trains_identically(tmp_path, caplog):
    plain = Solver(config(tmp_path / "p", max_iter=3), quiet=True)
    plain.step(3)
    dbg = Solver(config(tmp_path / "d", max_iter=3, debug_info=True), quiet=True)
    with caplog.at_level(logging.INFO, logger="layerflow"):
        dbg.step(3)
    for a, b in zip(plain.params, dbg.params):
        np.testing.assert_array_equal(a.blob.data, b.blob.data)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for pattern in (r"\[Forward\] Layer ip1, top blob ip1 data: ",
                    r"\[Forward\] Layer ip1, param blob 0 data: ",
                    r"\[Backward\] Layer loss, bottom blob ip2 diff: ",
                    r"\[Backward\] Layer ip2, param blob 1 diff: ",
                    r"\[Backward\] All net params \(data, diff\): L1 norm = ",
                    r"\[Update\] Param ip1/0 data: "):
        assert len(re.findall(pattern, text)) == 3, pattern
    last = [r.getMessage() for r in caplog.records
            if "[Forward] Layer data, top blob data data:" in r.getMessage()][-1]
    value = float(last.rsplit(":", 1)[1])
    assert value == pytest.approx(np.abs(dbg.net.blobs["data"].data).mean(), rel=1e-5)


def test_non_finite_weights_are_named_before_the_outputs_they_spoil(tmp_path):
    """Weights an update overflowed to inf: the next iteration names the param, not the
    outputs downstream."""
    s = Solver(config(tmp_path / "o"), quiet=True)
    s.step(1)
    s.net.params["ip2"][0].data[0, 0] = np.inf
    with pytest.raises(NonFiniteError, match=r"iteration 1: .*layer 'ip2' \(InnerProduct\) "
                                             r"holds non-finite values in param 0"):
        s.step(1)
