"""The numerical gradient checker every layer test uses (Caffe's GradientChecker).

The objective is E = sum_k r_k * top_k with fixed random weights r (so every output element
matters and none cancels); its analytic gradient comes from the layer's backward with
top diffs r, and its numerical gradient from central differences
(E(x + h) - E(x - h)) / 2h, element by element, over every checked bottom and param.
An element passes when |analytic - numeric| <= threshold * max(|analytic|, |numeric|, 1).
Elements within `kink_range` of `kink` (ReLU's corner at 0) are skipped, since a
central difference straddling a kink is meaningless there.

Run it in float64: float32 rounding swamps a step small enough to be accurate.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class GradCheckResult:
    """Worst relative error and number of elements checked per blob ('bottom 0',
    'param 1'), and the failures. A check that compared no element at all (every element
    skipped at a kink, or no blob to check) is not ok: it would pass whatever the layer did."""
    worst: dict = field(default_factory=dict)
    checked: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.failures and sum(self.checked.values()) > 0


class GradientChecker:
    """`max_elements` bounds the elements checked per blob (drawn at random without
    replacement; every element when the blob is small enough). The kink test applies to
    bottoms only: a parameter at 0 (a fresh bias) is no kink."""

    def __init__(self, stepsize=1e-4, threshold=1e-4, seed=1701, kink=0.0, kink_range=-1.0,
                 max_elements=None):
        self.stepsize, self.threshold, self.seed = stepsize, threshold, seed
        self.kink, self.kink_range = kink, kink_range
        self.max_elements = max_elements

    def check(self, layer, bottom, top, check_bottom=None, check_params=True, max_failures=10):
        """Check `layer` (already set up on `bottom`/`top`); returns a GradCheckResult."""
        rng = np.random.default_rng(self.seed)
        rng_state = layer.rng.bit_generator.state
        if check_bottom is None:
            check_bottom = [i for i in range(len(bottom)) if layer.can_backprop(i)]
        blobs = [(f"bottom {i}", bottom[i]) for i in check_bottom]
        if check_params:
            blobs += [(f"param {i}", b) for i, b in enumerate(layer.blobs)]

        def objective():
            layer.rng.bit_generator.state = rng_state
            layer.reshape(bottom, top)
            layer.forward(bottom, top)
            return sum(float(np.sum(w * t.data)) for w, t in zip(weights, top))

        layer.rng.bit_generator.state = rng_state
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        weights = [rng.uniform(-1, 1, t.shape).astype(t.dtype) for t in top]
        analytic = self._analytic(layer, bottom, top, weights, check_bottom, rng_state)
        result = GradCheckResult()
        for (label, blob), grad in zip(blobs, analytic):
            flat = blob.data.reshape(-1)
            worst, checked = 0.0, 0
            for j in self._picks(flat.size, rng):
                x = flat[j]
                if (self.kink_range > 0 and label.startswith("bottom")
                        and abs(x - self.kink) < self.kink_range):
                    continue
                checked += 1
                flat[j] = x + self.stepsize
                plus = objective()
                flat[j] = x - self.stepsize
                minus = objective()
                flat[j] = x
                numeric = (plus - minus) / (2 * self.stepsize)
                a = float(grad[j])
                scale = max(abs(a), abs(numeric), 1.0)
                err = abs(a - numeric) / scale
                worst = max(worst, err)
                if err > self.threshold and len(result.failures) < max_failures:
                    result.failures.append(f"{label}[{j}]: analytic {a:.6g} vs numeric "
                                           f"{numeric:.6g}")
            result.worst[label], result.checked[label] = worst, checked
        objective()           # leave the tops as the unperturbed inputs give them
        return result

    def _picks(self, size, rng):
        if self.max_elements is None or size <= self.max_elements:
            return range(size)
        return np.sort(rng.choice(size, self.max_elements, replace=False))

    def _analytic(self, layer, bottom, top, weights, check_bottom, rng_state):
        """Gradients of the objective from one backward pass, copied out per checked blob.

        Diffs are cleared before the top diffs are set, as in Caffe, since a top may share
        its bottom's diff (Flatten, Reshape)."""
        for b in layer.blobs:
            b.diff[...] = 0
        for b in bottom:
            b.diff[...] = 0
        for t, w in zip(top, weights):
            t.diff[...] = w
        propagate = [i in check_bottom for i in range(len(bottom))]
        layer.backward(top, propagate, bottom)
        grads = [bottom[i].diff.reshape(-1).copy() for i in check_bottom]
        grads += [b.diff.reshape(-1).copy() for b in layer.blobs]
        layer.rng.bit_generator.state = rng_state
        return grads
