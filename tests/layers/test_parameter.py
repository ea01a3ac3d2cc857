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


def test_parameter_in_a_net_gets_its_gradient():
    from layerflow import Net
    net = Net({"layers": [
        {"name": "in", "type": "Input", "top": ["x", "t"], "shape": [[2, 3], [2, 3]]},
        {"name": "bias", "type": "Parameter", "top": "b", "shape": [2, 3],
         "filler": {"type": "constant", "value": 0.5}},
        {"name": "sum", "type": "Eltwise", "bottom": ["x", "b"], "top": "y"},
        {"name": "loss", "type": "EuclideanLoss", "bottom": ["y", "t"], "top": "loss"}]},
        dtype=np.float64)
    net.blobs["x"].data[...] = 1.0
    net.blobs["t"].data[...] = 0.0
    net.forward()
    net.backward()
    # E = sum((x + b - t)^2) / (2N): dE/db = (x + b - t) / N
    np.testing.assert_allclose(net.params["bias"][0].diff, 1.5 / 2)
