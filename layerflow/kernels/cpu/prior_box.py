"""PriorBox kernel: SSD's default boxes for every position of a feature map."""
import math

from numba import njit


@njit(cache=True)
def prior_boxes(layer_h, layer_w, img_h, img_w, step_h, step_w, offset, min_sizes, max_sizes,
                ratios, clip, out):
    """out: (layer_h * layer_w * priors * 4,) as [xmin, ymin, xmax, ymax] / image size, per
    position (row-major), per min size: the min-size square, the sqrt(min * max) square (if
    max sizes), then each ratio other than 1 (width min * sqrt(r), height min / sqrt(r),
    min replaced by sqrt(min * max) when max sizes are given). Sizes arrive truncated to
    integers, as SSD's code reads them."""
    k = 0
    for h in range(layer_h):
        for w in range(layer_w):
            cx = (w + offset) * step_w
            cy = (h + offset) * step_h
            for s in range(min_sizes.size):
                lo = min_sizes[s]
                for q in range(-2, ratios.size):
                    if q == -2:
                        bw = lo
                        bh = lo
                    elif q == -1:
                        if max_sizes.size == 0:
                            continue
                        bw = math.sqrt(lo * max_sizes[s])
                        bh = bw
                    else:
                        r = ratios[q]
                        if abs(r - 1.0) < 1e-6:
                            continue
                        base = math.sqrt(lo * max_sizes[s]) if max_sizes.size else lo
                        bw = base * math.sqrt(r)
                        bh = base / math.sqrt(r)
                    out[k] = (cx - bw / 2.0) / img_w
                    out[k + 1] = (cy - bh / 2.0) / img_h
                    out[k + 2] = (cx + bw / 2.0) / img_w
                    out[k + 3] = (cy + bh / 2.0) / img_h
                    k += 4
    if clip:
        for i in range(k):
            out[i] = min(max(out[i], 0.0), 1.0)
