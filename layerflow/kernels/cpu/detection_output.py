"""DetectionOutput kernels (SSD inference): decode the box offsets against the priors, greedy
NMS per class, keep the best keep_top_k per image, write [image, label, score, box] rows.

code: 0 CORNER, 1 CENTER_SIZE, 2 CORNER_SIZE (SSD's CodeType). The candidate and top-k
orders come from a stable sort (np.argsort kind="mergesort", which allocates its order:
inference only)."""
import math

import numpy as np
from numba import njit


@njit(cache=True)
def decode_boxes(loc, prior, var, code, variance_in_target, out):
    """loc: (N, P, L, 4) offsets; prior, var: (P, 4); out: (N, L, P, 4) corners."""
    n_, p_, l_, _ = loc.shape
    for n in range(n_):
        for p in range(p_):
            pxmin, pymin, pxmax, pymax = prior[p, 0], prior[p, 1], prior[p, 2], prior[p, 3]
            pw = pxmax - pxmin
            ph = pymax - pymin
            v0, v1, v2, v3 = var[p, 0], var[p, 1], var[p, 2], var[p, 3]
            if variance_in_target:
                v0 = v1 = v2 = v3 = 1.0
            for c in range(l_):
                t0, t1, t2, t3 = loc[n, p, c, 0], loc[n, p, c, 1], loc[n, p, c, 2], loc[n, p, c, 3]
                if code == 1:
                    cx = v0 * t0 * pw + (pxmin + pxmax) / 2.0
                    cy = v1 * t1 * ph + (pymin + pymax) / 2.0
                    w = math.exp(v2 * t2) * pw
                    h = math.exp(v3 * t3) * ph
                    out[n, c, p, 0] = cx - w / 2.0
                    out[n, c, p, 1] = cy - h / 2.0
                    out[n, c, p, 2] = cx + w / 2.0
                    out[n, c, p, 3] = cy + h / 2.0
                else:
                    sx = pw if code == 2 else 1.0
                    sy = ph if code == 2 else 1.0
                    out[n, c, p, 0] = pxmin + v0 * t0 * sx
                    out[n, c, p, 1] = pymin + v1 * t1 * sy
                    out[n, c, p, 2] = pxmax + v2 * t2 * sx
                    out[n, c, p, 3] = pymax + v3 * t3 * sy


@njit(cache=True)
def box_size(b):
    if b[2] < b[0] or b[3] < b[1]:
        return 0.0
    return (b[2] - b[0]) * (b[3] - b[1])


@njit(cache=True)
def jaccard(a, b):
    """SSD's JaccardOverlap of normalized boxes (no +1 on the sizes)."""
    if b[0] > a[2] or b[2] < a[0] or b[1] > a[3] or b[3] < a[1]:
        return 0.0
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (box_size(a) + box_size(b) - inter)


@njit(cache=True)
def nms_fast(boxes, scores, threshold, nms_threshold, eta, top_k, cand, keep):
    """SSD's ApplyNMSFast: the scores above threshold in stable descending order (at most
    top_k when top_k > -1), each kept unless it overlaps a kept box by more than the
    (eta-adapted) threshold. Writes keep[:count]; returns count. cand: (P,) scratch."""
    m = 0
    for p in range(scores.size):
        if scores[p] > threshold:
            cand[m] = p
            m += 1
    vals = np.empty(m)
    for i in range(m):
        vals[i] = -scores[cand[i]]
    order = np.argsort(vals, kind="mergesort")
    if top_k > -1 and top_k < m:
        m = top_k
    adaptive = nms_threshold
    count = 0
    for i in range(m):
        idx = cand[order[i]]
        ok = True
        for k in range(count):
            if jaccard(boxes[idx], boxes[keep[k]]) > adaptive:
                ok = False
                break
        if ok:
            keep[count] = idx
            count += 1
            if eta < 1 and adaptive > 0.5:
                adaptive *= eta
    return count


@njit(cache=True)
def select_detections(boxes, conf, share_location, background, threshold, nms_threshold, eta,
                      top_k, keep_top_k, cand, keep, counts, sel_label, sel_idx, n_sel):
    """Per image n: NMS per non-background class, then the best keep_top_k over all classes
    (stable by score), grouped by ascending label. Writes sel_label[n], sel_idx[n][:n_sel[n]].
    boxes: (N, L, P, 4); conf: (N, P, C); keep: (C, P); counts: (C,)."""
    n_, _, c_ = conf.shape
    for n in range(n_):
        total = 0
        for c in range(c_):
            counts[c] = 0
            if c == background:
                continue
            loc = 0 if share_location else c
            counts[c] = nms_fast(boxes[n, loc], conf[n, :, c], threshold, nms_threshold, eta,
                                 top_k, cand, keep[c])
            total += counts[c]
        k = 0
        if keep_top_k > -1 and total > keep_top_k:
            scores = np.empty(total)
            labels = np.empty(total, np.int64)
            idxs = np.empty(total, np.int64)
            t = 0
            for c in range(c_):
                for j in range(counts[c]):
                    scores[t] = -conf[n, keep[c, j], c]
                    labels[t] = c
                    idxs[t] = keep[c, j]
                    t += 1
            order = np.argsort(scores, kind="mergesort")[:keep_top_k]
            for c in range(c_):
                for j in order:
                    if labels[j] == c:
                        sel_label[n, k] = c
                        sel_idx[n, k] = idxs[j]
                        k += 1
        else:
            for c in range(c_):
                for j in range(counts[c]):
                    sel_label[n, k] = c
                    sel_idx[n, k] = keep[c, j]
                    k += 1
        n_sel[n] = k


@njit(cache=True)
def write_detections(boxes, conf, share_location, sel_label, sel_idx, n_sel, out):
    """out: (rows, 7) = [image, label, score, xmin, ymin, xmax, ymax]; with no detection at
    all, one row per image [image, -1, ..., -1]."""
    row = 0
    for n in range(n_sel.size):
        for k in range(n_sel[n]):
            c = sel_label[n, k]
            p = sel_idx[n, k]
            loc = 0 if share_location else c
            out[row, 0] = n
            out[row, 1] = c
            out[row, 2] = conf[n, p, c]
            for j in range(4):
                out[row, 3 + j] = boxes[n, loc, p, j]
            row += 1
    if row == 0:
        for n in range(out.shape[0]):
            out[n, 0] = n
            for j in range(1, 7):
                out[n, j] = -1
