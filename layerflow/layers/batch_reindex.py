"""BatchReindex: picks (and may repeat or reorder) samples of a batch by index (Caffe's
layer). Bottoms: x (N, ...) and index (M,), float holding integers in [0, N).

    y[m] = x[index[m]]             dx[k] = sum over m with index[m] == k of dy[m]

The index bottom gets no gradient; an index outside [0, N) is an error naming it.

    - {name: pick, type: BatchReindex, bottom: [data, perm], top: data_perm}
"""
from dataclasses import dataclass

from ..kernels.cpu.batch_reindex import first_bad_index, reindex_backward, reindex_forward
from ..layer import Layer
from ..registry import register_layer


@register_layer("BatchReindex")
class BatchReindex(Layer):
    @dataclass
    class Params:
        pass

    num_bottom = 2

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def reshape(self, bottom, top):
        x, index = bottom
        if index.ndim != 1 or x.ndim < 1:
            raise self.shape_error(f"index '{index.name}' must be 1-D (M,), got "
                                   f"{list(index.shape)}")
        top[0].reshape((index.shape[0],) + tuple(x.shape[1:]))
        inner = 1
        for s in x.shape[1:]:
            inner *= s
        self._x, self._y = (x.shape[0], inner), (index.shape[0], inner)

    def forward_cpu(self, bottom, top):
        x, index = bottom
        bad = first_bad_index(index.data, x.shape[0])
        if bad >= 0:
            raise self.shape_error(f"index '{index.name}'[{bad}] = {index.data[bad]} is not a "
                                   f"sample of '{x.name}' (N = {x.shape[0]})")
        reindex_forward(x.data.reshape(self._x), index.data, top[0].data.reshape(self._y))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            reindex_backward(top[0].diff.reshape(self._y), bottom[1].data,
                             bottom[0].diff.reshape(self._x))

    def forward_gpu(self, bottom, top):
        x, index = bottom
        k = self.device.kernels("batch_reindex")
        idx = index.gpu_data.reshape(index.count)
        bad = k.first_bad_index(idx, x.shape[0])            # one number comes back
        if bad >= 0:
            raise self.shape_error(f"index '{index.name}'[{bad}] = {index.cpu_data[bad]} is not "
                                   f"a sample of '{x.name}' (N = {x.shape[0]})")
        k.reindex_forward(x.gpu_data.reshape(self._x), idx,
                          top[0].mutable_gpu_data.reshape(self._y))

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("batch_reindex").reindex_backward(
                top[0].gpu_diff.reshape(self._y), bottom[1].gpu_data.reshape(bottom[1].count),
                bottom[0].mutable_gpu_diff.reshape(self._x))
