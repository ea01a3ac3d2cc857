"""Input: tops of declared shapes, filled from Python (`net.blobs["data"].data[...] = x`).

    - {name: data, type: Input, top: data, shape: [64, 1, 28, 28]}
    - {name: in, type: Input, top: [data, label], shape: [[64, 784], [64]]}
"""
from dataclasses import dataclass, field

from ..layer import Layer
from ..registry import register_layer


@register_layer("Input")
class Input(Layer):
    @dataclass
    class Params:
        shape: list[int] | list[list[int]] = field(default_factory=list)

        def __post_init__(self):
            shapes = self.shape if self.shape and isinstance(self.shape[0], list) else [self.shape]
            if any(d < 0 for s in shapes for d in s):
                raise ValueError(f"Input shape dimensions must be >= 0, got {self.shape}")

    num_bottom = 0
    num_top = (1, None)

    def setup(self, bottom, top):
        shapes = self.p.shape if self.p.shape and isinstance(self.p.shape[0], list) \
            else [self.p.shape] * len(top)
        if len(shapes) != len(top):
            raise self.shape_error(f"{len(shapes)} shapes given for {len(top)} tops")
        for t, s in zip(top, shapes):
            t.reshape(s)

    def reshape(self, bottom, top):
        """Shapes stay as the user last set them (`blob.reshape` then `net.reshape()`)."""

    def forward_cpu(self, bottom, top):
        pass

    def forward_gpu(self, bottom, top):
        """Nothing to compute: the tops are filled from Python, and a host write goes up
        on the next layer's device read."""
