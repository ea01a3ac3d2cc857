"""Signals while `solve()` runs: SIGINT/SIGTERM snapshot and stop, SIGHUP snapshots and goes
on (Caffe's sigint_effect / sighup_effect, plus sigterm_effect), handlers only during solve.
A plug-in layer sends the signal to this very process at a chosen forward call, so that the
tests are deterministic."""
import signal
import sys

import pytest

from layerflow.solvers import Solver
from layerflow.solvers.base import find_snapshots

from .test_solver_plugins import PLUGIN, config, mlp_layers
from .test_snapshot_resume import assert_same_state, final_state, metrics

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals (SIGHUP)")


def layers_with_signal(at, sig):
    layers = mlp_layers()
    layers.insert(3, {"name": "sig", "type": f"{PLUGIN}:SignalAt", "bottom": "ip1",
                      "top": "ip1", "at": at, "signal": sig})
    return layers


def run(prefix, at=-1, sig="SIGHUP", **solver):
    s = Solver(config(prefix, layers=layers_with_signal(at, sig), max_iter=12, **solver),
               quiet=True)
    return s.solve()


@pytest.fixture(autouse=True)
def handlers_are_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    after = {s: signal.getsignal(s) for s in before}
    assert after == before


def test_sighup_snapshots_and_goes_on(tmp_path):
    ref = run(tmp_path / "ref")
    s = run(tmp_path / "hup", at=4, sig="SIGHUP")
    assert s.iter == 12
    assert sorted(find_snapshots(tmp_path / "hup")) == [5, 12]
    assert_same_state(final_state(s), final_state(ref))      # a snapshot changes nothing


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_stop_signal_snapshots_the_iteration_it_stopped_at(tmp_path, sig):
    s = run(tmp_path / "stop", at=6, sig=sig)
    assert s.iter == 7 and s.stop_requested
    assert sorted(find_snapshots(tmp_path / "stop")) == [7]
    ref = run(tmp_path / "ref")
    resumed = Solver(config(tmp_path / "stop", layers=layers_with_signal(-1, sig),
                            max_iter=12), quiet=True)
    resumed.solve(resume=tmp_path / "stop_iter_7.state.npz")
    assert_same_state(final_state(resumed), final_state(ref))
    assert metrics(tmp_path / "stop") == metrics(tmp_path / "ref")


def test_sigint_with_effect_none_is_ignored(tmp_path):
    s = run(tmp_path / "none", at=3, sig="SIGINT", sigint_effect="none")
    assert s.iter == 12 and sorted(find_snapshots(tmp_path / "none")) == [12]


def test_sighup_with_effect_stop_stops(tmp_path):
    s = run(tmp_path / "hs", at=2, sig="SIGHUP", sighup_effect="stop")
    assert s.iter == 3 and sorted(find_snapshots(tmp_path / "hs")) == [3]


def test_sigterm_with_effect_snapshot_goes_on(tmp_path):
    s = run(tmp_path / "ts", at=2, sig="SIGTERM", sigterm_effect="snapshot", snapshot=5)
    assert s.iter == 12 and sorted(find_snapshots(tmp_path / "ts")) == [3, 5, 10, 12]


def test_handlers_are_installed_only_while_solving(tmp_path):
    seen = []

    class Probe(Solver.__new__(Solver, config(tmp_path / "p")).__class__):
        def apply_update(self):
            seen.append(signal.getsignal(signal.SIGINT))
            return super().apply_update()

    outside = signal.getsignal(signal.SIGINT)
    p = Probe(config(tmp_path / "p", max_iter=2), quiet=True)
    p.step(1)
    p.solve()
    assert seen[0] is outside and seen[1] is not outside
    assert signal.getsignal(signal.SIGINT) is outside


def test_second_sigint_while_stopping_interrupts_at_once(tmp_path):
    layers = layers_with_signal(3, "SIGINT")
    layers[3]["repeat"] = 2
    s = Solver(config(tmp_path / "twice", layers=layers, max_iter=12, snapshot=2), quiet=True)
    with pytest.raises(KeyboardInterrupt):
        s.solve()
    assert s.iter == 3 and sorted(find_snapshots(tmp_path / "twice")) == [2]
