"""MultinomialLogisticLoss: the negative log-likelihood of probabilities (a Softmax output,
not scores; Caffe's). With p of shape (N, ...) viewed as (N, D) and labels l (N values):
loss = -1/N * sum log max(p[i, l_i], 1e-20) (Caffe's kLOG_THRESHOLD keeps log(0) finite).
Gradient: dp[i, l_i] = -loss_weight / (N * max(p[i, l_i], 1e-20)), 0 elsewhere. Labels get
no gradient. SoftmaxWithLoss does the same from scores, more stably.

    - {name: prob, type: Softmax, bottom: ip2, top: prob}
    - {name: loss, type: MultinomialLogisticLoss, bottom: [prob, label], top: loss}
"""
from ..kernels.cpu.multinomial_logistic_loss import mlogistic_backward, mlogistic_forward
from ..layer import Layer
from ..registry import register_layer
from .softmax_with_loss import label_error


@register_layer("MultinomialLogisticLoss")
class MultinomialLogisticLoss(Layer):
    num_bottom = 2
    is_loss = True

    def can_backprop(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        self.label_name = bottom[1].name

    def reshape(self, bottom, top):
        p, labels = bottom
        if not p.shape or labels.count != p.shape[0]:
            raise self.shape_error(f"label blob '{labels.name}' of shape {list(labels.shape)} "
                                   f"must hold one label per item of probabilities '{p.name}' "
                                   f"{list(p.shape)}")
        self.dims = (p.shape[0], p.count // max(p.shape[0], 1))
        top[0].reshape(())

    def forward_cpu(self, bottom, top):
        total, bad = mlogistic_forward(bottom[0].data.reshape(self.dims),
                                       bottom[1].data.reshape(-1))
        if bad >= 0:
            raise label_error(self, bottom[1].data, bad, self.dims[1], ignorable=False)
        top[0].data[...] = total / self.dims[0]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            mlogistic_backward(bottom[0].data.reshape(self.dims), bottom[1].data.reshape(-1),
                               self.dtype.type(float(top[0].diff) / self.dims[0]),
                               bottom[0].diff.reshape(self.dims))

    def forward_gpu(self, bottom, top):
        total, bad = self.device.kernels("multinomial_logistic_loss").mlogistic_forward(
            bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count))
        if bad >= 0:
            raise label_error(self, bottom[1].cpu_data, bad, self.dims[1], ignorable=False)
        top[0].data[...] = total / self.dims[0]

    def backward_gpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            self.device.kernels("multinomial_logistic_loss").mlogistic_backward(
                bottom[0].gpu_data.reshape(self.dims), bottom[1].gpu_data.reshape(bottom[1].count),
                self.dtype.type(float(top[0].cpu_diff) / self.dims[0]),
                bottom[0].mutable_gpu_diff.reshape(self.dims))
