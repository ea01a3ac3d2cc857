"""Split sums its tops' diffs; Input declares shapes."""
import numpy as np

from .harness import check_gradient, forward, make_layer


def test_split_copies_and_sums_diffs():
    x = np.random.default_rng(0).normal(size=(2, 3))
    layer, bottom, top = make_layer("Split", {}, [x], num_top=3)
    ys = forward(layer, bottom, top)
    for y in ys:
        np.testing.assert_array_equal(y, x)
    for i, t in enumerate(top):
        t.diff[...] = i + 1
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, np.full((2, 3), 6.0))
    check_gradient(layer, bottom, top)


def test_input_shapes():
    layer, _, top = make_layer("Input", {"shape": [[2, 3], [2]]}, [], num_top=2)
    assert top[0].shape == (2, 3) and top[1].shape == (2,)
    layer, _, top = make_layer("Input", {"shape": [4, 1, 2, 2]}, [], num_top=1)
    assert top[0].shape == (4, 1, 2, 2)
