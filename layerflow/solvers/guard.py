"""Guard rails and Caffe's `debug_info`, built on the Net's public attributes (`layers`,
`bottom_vecs`, `top_vecs`, `layer_need_backward`, `bottom_need_backward`).

- `NonFiniteError`: a non-finite loss or gradient; the message names the iteration and the
  first layer whose output (forward order) or gradient (backward order) is not finite.
- `locate_forward` / `locate_backward` find that layer after the fact. A blob written in place
  by several layers holds only the last one's values, so the message lists the whole in-place
  chain; `debug_info: true` checks every layer as it runs and names the exact one.
- `DebugRunner` hooks into the net's layer loop, printing Caffe's per-layer lines (mean
  absolute value = asum / count of each top, bottom diff and param) and stopping at the
  first non-finite value.
"""
import logging
import math

from ..kernels.cpu.solver_norms import all_finite, asum, sumsq

log = logging.getLogger("layerflow")


class NonFiniteError(FloatingPointError):
    """Training produced NaN or inf; `.iteration` and `.layer` say where."""

    def __init__(self, message, iteration=None, layer=None, what=None, where=None):
        super().__init__(message)
        self.iteration, self.layer = iteration, layer
        self.what, self.where = what, where      # "loss" | "gradient"; the layer's part


def _found(iteration, layer, what, where):
    return NonFiniteError(f"iteration {iteration}: {where}", iteration, layer.name, what, where)


def _finite(a):
    return a.size == 0 or all_finite(a.reshape(-1))


def _writers(net, blob):
    return [l.name for l, tops in zip(net.layers, net.top_vecs) if any(t is blob for t in tops)]


def _describe(layer):
    kind = layer.type_name
    return f"layer '{layer.name}' ({kind})"


def locate_forward(net):
    """(layer, message) for the first layer whose top data is not finite, or (None, None)."""
    for layer, bottoms, tops in zip(net.layers, net.bottom_vecs, net.top_vecs):
        for i, b in enumerate(layer.blobs):
            if not _finite(b.cpu_data):
                return layer, (f"{_describe(layer)} holds non-finite values in param {i} "
                               "(the last update overflowed: lower base_lr or clip gradients)")
        for t in tops:
            if _finite(t.cpu_data):
                continue
            writers = _writers(net, t)
            where = f"{_describe(layer)} produced a non-finite output in top '{t.name}'"
            if len(writers) > 1:
                where += (f" (a blob written in place by {', '.join(writers)}; "
                          "debug_info: true names the exact layer)")
            elif all(_finite(b.cpu_data) for b in bottoms):
                where += " from finite bottoms"
            return layer, where
    return None, None


def locate_backward(net):
    """(layer, message) for the first layer, in backward order, whose param or bottom diff
    is not finite, or (None, None)."""
    for li in range(len(net.layers) - 1, -1, -1):
        if not net.layer_need_backward[li]:
            continue
        layer = net.layers[li]
        for i, b in enumerate(layer.blobs):
            if not _finite(b.cpu_diff):
                return layer, f"{_describe(layer)} produced a non-finite gradient for param {i}"
        for b, need in zip(net.bottom_vecs[li], net.bottom_need_backward[li]):
            if need and not _finite(b.cpu_diff):
                return layer, (f"{_describe(layer)} produced a non-finite gradient for "
                               f"bottom '{b.name}'")
    return None, None


def _mean_abs(a):
    return asum(a.reshape(-1)) / a.size if a.size else 0.0


class DebugRunner:
    """Caffe's debug_info lines for `net`, printed by hooks as the net runs each layer, and a
    stop (NonFiniteError) at the first layer that produces a non-finite value."""

    def __init__(self, net):
        self.net = net
        self.iteration = 0
        net.add_hook(self)

    def after_forward(self, net, i):
        layer = net.layers[i]
        for t in net.top_vecs[i]:
            log.info("    [Forward] Layer %s, top blob %s data: %.6g", layer.name, t.name,
                     _mean_abs(t.cpu_data))
            if not _finite(t.cpu_data):
                raise _found(self.iteration, layer, "loss", f"{_describe(layer)} produced a "
                             f"non-finite output in top '{t.name}'")
        for j, b in enumerate(layer.blobs):
            log.info("    [Forward] Layer %s, param blob %d data: %.6g", layer.name, j,
                     _mean_abs(b.cpu_data))

    def after_backward(self, net, i):
        layer = net.layers[i]
        for b, flag in zip(net.bottom_vecs[i], net.bottom_need_backward[i]):
            if flag:
                log.info("    [Backward] Layer %s, bottom blob %s diff: %.6g", layer.name,
                         b.name, _mean_abs(b.cpu_diff))
                if not _finite(b.cpu_diff):
                    raise _found(self.iteration, layer, "gradient", f"{_describe(layer)} "
                                 f"produced a non-finite gradient for bottom '{b.name}'")
        for j, b in enumerate(layer.blobs):
            log.info("    [Backward] Layer %s, param blob %d diff: %.6g", layer.name, j,
                     _mean_abs(b.cpu_diff))
            if not _finite(b.cpu_diff):
                raise _found(self.iteration, layer, "gradient", f"{_describe(layer)} "
                             f"produced a non-finite gradient for param {j}")

    def summary(self, params):
        """Caffe's '[Backward] All net params (data, diff)' line: L1 and L2 norms."""
        l1d = l1g = l2d = l2g = 0.0
        for p in params:
            d, g = p.blob.cpu_data.reshape(-1), p.blob.cpu_diff.reshape(-1)
            l1d += asum(d)
            l1g += asum(g)
            l2d += sumsq(d)
            l2g += sumsq(g)
        log.info("    [Backward] All net params (data, diff): L1 norm = (%.6g, %.6g); "
                 "L2 norm = (%.6g, %.6g)", l1d, l1g, math.sqrt(l2d), math.sqrt(l2g))

    def updated(self, params):
        for p in params:
            log.info("    [Update] Param %s data: %.6g; diff: %.6g", p.key,
                     _mean_abs(p.blob.cpu_data), _mean_abs(p.blob.cpu_diff))
