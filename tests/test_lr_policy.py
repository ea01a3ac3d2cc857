"""Every learning-rate policy, warmup and cosine, against Caffe's formulas written out, and
the rate the solver actually uses and logs."""
import json
import math

import pytest

from layerflow.config import ConfigError, Where, from_mapping
from layerflow.solvers import Solver, SolverParams, learning_rate

from .test_solver_plugins import config


def params(**kw):
    return from_mapping(SolverParams, dict({"base_lr": 0.1, "max_iter": 100}, **kw), Where())


CASES = [
    ({"lr_policy": "fixed"}, lambda it: 0.1),
    ({"lr_policy": "step", "stepsize": 30, "gamma": 0.5}, lambda it: 0.1 * 0.5 ** (it // 30)),
    ({"lr_policy": "exp", "gamma": 0.99}, lambda it: 0.1 * 0.99 ** it),
    ({"lr_policy": "inv", "gamma": 1e-3, "power": 0.75},
     lambda it: 0.1 * (1 + 1e-3 * it) ** -0.75),
    ({"lr_policy": "multistep", "stepvalue": [10, 40, 41], "gamma": 0.1},
     lambda it: 0.1 * 0.1 ** sum(it >= s for s in (10, 40, 41))),
    ({"lr_policy": "poly", "power": 2.0}, lambda it: 0.1 * (1 - it / 100) ** 2),
    ({"lr_policy": "sigmoid", "gamma": -0.1, "stepsize": 50},
     lambda it: 0.1 / (1 + math.exp(0.1 * (it - 50)))),
    ({"lr_policy": "cosine"}, lambda it: 0.05 * (1 + math.cos(math.pi * it / 100))),
    ({"lr_policy": "cosine", "min_lr": 0.01},
     lambda it: 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * it / 100))),
]


@pytest.mark.parametrize("kw,formula", CASES, ids=[c[0]["lr_policy"] + str(i)
                                                    for i, c in enumerate(CASES)])
def test_policy_follows_caffe_formula(kw, formula):
    p = params(**kw)
    for it in (0, 1, 9, 10, 29, 30, 40, 41, 50, 61, 99, 100):
        assert learning_rate(p, it) == pytest.approx(formula(it), rel=1e-12, abs=1e-15), it


def test_multistep_boundaries_are_inclusive():
    p = params(lr_policy="multistep", stepvalue=[10, 20], gamma=0.1)
    assert [learning_rate(p, it) for it in (9, 10, 19, 20)] == pytest.approx(
        [0.1, 0.01, 0.01, 0.001])


def test_cosine_ends_at_min_lr_and_stays():
    p = params(lr_policy="cosine", min_lr=0.001)
    assert learning_rate(p, 100) == pytest.approx(0.001)
    assert learning_rate(p, 150) == pytest.approx(0.001)
    assert learning_rate(p, 50) == pytest.approx(0.0505)


@pytest.mark.parametrize("policy", [{"lr_policy": "fixed"},
                                    {"lr_policy": "step", "stepsize": 3, "gamma": 0.5},
                                    {"lr_policy": "cosine"}])
def test_warmup_ramps_linearly_then_hands_over(policy):
    plain, warm = params(**policy), params(warmup_iter=5, **policy)
    for it in range(5):
        assert learning_rate(warm, it) == pytest.approx(learning_rate(plain, it) * (it + 1) / 5)
    for it in (5, 6, 30):
        assert learning_rate(warm, it) == learning_rate(plain, it)
    assert learning_rate(warm, 0) < learning_rate(warm, 1) < learning_rate(warm, 4)


@pytest.mark.parametrize("kw,missing", [({"lr_policy": "step", "gamma": 0.1}, "stepsize"),
                                        ({"lr_policy": "inv", "gamma": 0.1}, "power"),
                                        ({"lr_policy": "multistep", "gamma": 0.1}, "stepvalue"),
                                        ({"lr_policy": "exp"}, "gamma")])
def test_policy_without_its_fields_is_a_config_error(kw, missing):
    with pytest.raises(ConfigError, match=missing):
        params(**kw)


def test_stepvalue_must_increase():
    with pytest.raises(ConfigError, match="increase"):
        params(lr_policy="multistep", stepvalue=[5, 3], gamma=0.1)


def test_solver_uses_and_logs_the_scheduled_rate(tmp_path):
    cfg = config(tmp_path / "lr", lr_policy="step", stepsize=2, gamma=0.5, warmup_iter=2,
                 max_iter=6)
    Solver(cfg, quiet=True).solve()
    records = [json.loads(l) for l in (tmp_path / "lr_metrics.jsonl").read_text().splitlines()]
    rates = [r["lr"] for r in records if r["phase"] == "train"]
    assert rates == pytest.approx([0.025, 0.05, 0.025, 0.025, 0.0125, 0.0125])
