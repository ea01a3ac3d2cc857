"""Split: hands one bottom to several tops (inserted by the Net where a blob has several
readers); its gradient is the sum of the tops' diffs, so the partial adjoints add up.

The tops share the bottom's data, as Caffe's do, when `share_data` is set: the Net sets it
where no reader runs in place on its top (a reader that did would change what the others
see; those tops are copies). Sharing saves a copy per top each forward: 1.3 ms per ResNet-20
stage-1 split at batch 128 (docs/layers.md). Each top keeps its own diff."""
from ..kernels.cpu.eltwise import parts_for, scale_into
from ..kernels.cpu.split import sum_into
from ..layer import Layer
from ..registry import register_layer


@register_layer("Split")
class Split(Layer):
    num_top = (1, None)
    share_data = False      # the Net's call: True where no reader writes its top in place
    _parts = 1

    def reshape(self, bottom, top):
        for t in top:
            t.reshape(bottom[0].shape)
            if self.share_data and t.buffers()[0] is not bottom[0].buffers()[0]:
                t.share_data(bottom[0])
        self._parts = parts_for(self.runtime.threads, bottom[0].count)

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(-1)
        for t in top:
            if not self.share_data:
                scale_into(x, x.dtype.type(1), t.data.reshape(-1), self._parts)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dx = bottom[0].diff.reshape(-1)
        if len(top) == 1:
            dx[...] = top[0].diff.reshape(-1)
            return
        sum_into(top[0].diff.reshape(-1), top[1].diff.reshape(-1), dx, self._parts)
        for t in top[2:]:
            sum_into(dx, t.diff.reshape(-1), dx, self._parts)

    def forward_gpu(self, bottom, top):
        if self.share_data:
            return
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
