"""The block copies of Concat, Slice and Crop with numpy slicing (the CPU layers' own way),
under kernels/cuda/copy.py's names: its reference, and the kernels of devices whose arrays
live in host memory (tests/fake_device.py)."""


def channel_copy(small, big, off, into_big):
    """into_big: big[:, off:off + c, :] = small; else small = big[:, off:off + c, :]."""
    c = small.shape[1]
    if into_big:
        big[:, off:off + c, :] = small
    else:
        small[...] = big[:, off:off + c, :]


def _window(offsets, shape):
    return tuple(slice(o, o + s) for o, s in zip(offsets, shape))


def crop_forward(x, offsets, y):
    y[...] = x[_window(offsets, y.shape)]


def crop_backward(dy, offsets, dx):
    dx[...] = 0
    dx[_window(offsets, dy.shape)] = dy
