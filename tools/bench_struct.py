"""Benchmark: forward + backward of the structure and detection layers (LayerNorm, Normalize,
MVN, Interp, Upsample, Tile, Permute, Reduction, Axpy, Embed) in layerflow and in PyTorch
CPU, in one process, alternating rounds, same threads, float32. Same method as
tools/bench_layers_b.py (whose case builders it reuses).

    python tools/bench_struct.py [--rounds 9] [--iters 20] [--threads N] [--only NAME]
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_layers_b
from bench_layers_b import layerflow_case, torch_case


def index_case(type_name, params, index):
    """A layerflow case whose one bottom holds `index` (Embed reads indices, not noise)."""
    from layerflow.blob import Blob
    from layerflow.config import Where, from_mapping
    from layerflow.registry import get_layer_class
    cls = get_layer_class(type_name)
    layer = cls(from_mapping(cls.Params, params, Where()), type_name, "TRAIN", None,
                np.random.default_rng(0), np.float32)
    bottom, top = [Blob(index.shape, np.float32)], [Blob((), np.float32)]
    bottom[0].data[...] = index
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    top[0].diff[...] = np.random.default_rng(0).normal(size=top[0].shape)

    def run(n):
        for _ in range(n):
            layer.reshape(bottom, top)
            layer.forward(bottom, top)
            for b in layer.blobs:
                b.diff[...] = 0            # as the solver clears param diffs
            layer.backward(top, [False], bottom)
    return run


def cases():
    import torch
    F = torch.nn.functional
    big = (64, 64, 16, 16)
    idx = np.random.default_rng(0).integers(0, 10000, (64, 32)).astype(np.float32)

    def affine(shape):
        def fn(xs, params):
            if not params:
                params += [torch.ones(shape, requires_grad=True),
                           torch.zeros(shape, requires_grad=True)]
            return F.layer_norm(xs[0], shape, params[0], params[1])
        return fn

    def ssd_norm(xs, params):
        if not params:
            params.append(torch.full((512,), 20.0, requires_grad=True))
        return F.normalize(xs[0], dim=1) * params[0].view(1, -1, 1, 1)

    def mvn(xs, params):
        d = xs[0] - xs[0].mean((2, 3), keepdim=True)
        return d / (d.pow(2).mean((2, 3), keepdim=True).sqrt() + 1e-9)

    def embed(xs, params):
        if not params:
            params.append(torch.zeros(10000, 128, requires_grad=True))
            params.append(torch.zeros(128, requires_grad=True))
        return F.embedding(torch.tensor(idx.astype(np.int64)), params[0]) + params[1]

    embed_case = index_case("Embed", {"num_output": 128, "input_dim": 10000}, idx)
    return [
        ("LayerNorm 32x64x256, last axis", layerflow_case("LayerNorm", {}, [(32, 64, 256)]),
         torch_case(affine((256,)), [(32, 64, 256)])),
        ("Normalize SSD 2x512x38x38 per position",
         layerflow_case("Normalize", {"across_spatial": False, "channel_shared": False},
                        [(2, 512, 38, 38)]),
         torch_case(ssd_norm, [(2, 512, 38, 38)])),
        ("MVN 64x64x16x16", layerflow_case("MVN", {}, [big]), torch_case(mvn, [big])),
        ("Interp zoom 4, 4x21x33x33",
         layerflow_case("Interp", {"zoom_factor": 4}, [(4, 21, 33, 33)]),
         torch_case(lambda xs, p: F.interpolate(xs[0], size=(129, 129), mode="bilinear",
                                                align_corners=True), [(4, 21, 33, 33)])),
        ("Upsample nearest 2x, 16x64x32x32",
         layerflow_case("Upsample", {}, [(16, 64, 32, 32)]),
         torch_case(lambda xs, p: F.interpolate(xs[0], scale_factor=2, mode="nearest"),
                    [(16, 64, 32, 32)])),
        ("Tile axis 1 x2, 64x64x16x16", layerflow_case("Tile", {"tiles": 2}, [big]),
         torch_case(lambda xs, p: torch.tile(xs[0], (1, 2, 1, 1)), [big])),
        ("Permute NCHW->NHWC 32x64x19x19",
         layerflow_case("Permute", {"order": [0, 2, 3, 1]}, [(32, 64, 19, 19)]),
         torch_case(lambda xs, p: xs[0].permute(0, 2, 3, 1).contiguous(), [(32, 64, 19, 19)])),
        ("Reduction SUM axis 1, 64x64x16x16", layerflow_case("Reduction", {"axis": 1}, [big]),
         torch_case(lambda xs, p: xs[0].sum((1, 2, 3)), [big])),
        ("Axpy 64x64x16x16", layerflow_case("Axpy", {}, [(64, 64, 1, 1), big, big]),
         torch_case(lambda xs, p: xs[0] * xs[1] + xs[2], [(64, 64, 1, 1), big, big])),
        ("Embed 10000x128, 64x32 indices", embed_case, torch_case(embed, [(1,)], [False])),
    ]


if __name__ == "__main__":
    bench_layers_b.cases = cases
    bench_layers_b.main()
