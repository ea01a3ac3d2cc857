import numpy as np

from .harness import backward, check_gradient, forward, make_layer


def test_parameter_gradient():
    layer, bottom, top = make_layer("Parameter", {"shape": [2, 3],
                                                  "filler": {"type": "gaussian"}})
    check_gradient(layer, bottom, top)


def test_parameter_top_is_the_blob_and_its_diff_accumulates():
    layer, bottom, top = make_layer("Parameter", {"shape": [1, 2, 2],
                                                  "filler": {"type": "constant", "value": 3}})
    (y,) = forward(layer, bottom, top)
    assert y.shape == (1, 2, 2) and np.all(y == 3)
    backward(layer, bottom, top, [np.ones((1, 2, 2))])
    top[0].diff[...] = 2
    layer.backward(top, [], bottom)
    np.testing.assert_array_equal(layer.blobs[0].diff, 3)
