"""Split: copies one bottom to several tops (inserted by the Net where a blob has several
readers); its gradient is the sum of the tops' diffs, so the partial adjoints add up.

The tops are copies, not views of the bottom (as Caffe shares them): a reader that runs in
place would otherwise change what the other readers see."""
from ..kernels.cpu.split import sum_into
from ..layer import Layer
from ..registry import register_layer


@register_layer("Split")
class Split(Layer):
    num_top = (1, None)

    def forward_cpu(self, bottom, top):
        for t in top:
            t.data[...] = bottom[0].data

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dx = bottom[0].diff.reshape(-1)
        if len(top) == 1:
            dx[...] = top[0].diff.reshape(-1)
            return
        sum_into(top[0].diff.reshape(-1), top[1].diff.reshape(-1), dx)
        for t in top[2:]:
            sum_into(dx, t.diff.reshape(-1), dx)

    def forward_gpu(self, bottom, top):
        k = self.device.kernels("eltwise")
        x = bottom[0].gpu_data.reshape(bottom[0].count)
        for t in top:
            k.scale_into(x, 1.0, t.mutable_gpu_data.reshape(t.count))

    def backward_gpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        n = bottom[0].count
        dx = bottom[0].mutable_gpu_diff.reshape(n)
        if len(top) == 1:
            self.device.kernels("eltwise").scale_into(top[0].gpu_diff.reshape(n), 1.0, dx)
            return
        k = self.device.kernels("split")
        k.sum_into(top[0].gpu_diff.reshape(n), top[1].gpu_diff.reshape(n), dx)
        for t in top[2:]:
            k.sum_into(dx, t.gpu_diff.reshape(n), dx)
