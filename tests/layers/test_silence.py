import numpy as np

from .harness import backward, forward, make_layer


def test_silence_has_no_top_and_zeroes_the_diffs():
    a, b = np.ones((2, 3)), np.ones(4)
    layer, bottom, top = make_layer("Silence", {}, [a, b], num_top=0)
    assert forward(layer, bottom, top) == []
    bottom[0].diff[...] = 5
    bottom[1].diff[...] = 5
    dxs, _ = backward(layer, bottom, top, [], propagate=[True, False])
    np.testing.assert_array_equal(dxs[0], 0)
    np.testing.assert_array_equal(dxs[1], 5)
