"""Benchmark: forward + backward of Caffe's activation layers (PReLU, ELU, Swish, GELU,
AbsVal, BNLL, Power, Exp, Log, Clip) and two element-wise losses in layerflow and in PyTorch
CPU, in one process, alternating rounds, same threads, float32.

    python tools/bench_activations.py [--rounds 9] [--iters 20] [--threads N] [--only NAME]

Same method as tools/bench_layers_b.py (whose runners it uses): layerflow runs the layer as
the Net does, in place where the layer can; PyTorch runs autograd.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_layers_b  # noqa: E402
from bench_layers_b import layerflow_case, torch_case  # noqa: E402


def cases():
    import torch
    F = torch.nn.functional
    big = (64, 64, 16, 16)

    def prelu(xs, params):
        if not params:
            params.append(torch.full((64,), 0.25, requires_grad=True))
        return F.prelu(xs[0], params[0])

    return [
        ("PReLU in place 64x64x16x16", layerflow_case("PReLU", {}, [big], in_place=True),
         torch_case(prelu, [big])),
        ("ELU in place 64x64x16x16", layerflow_case("ELU", {}, [big], in_place=True),
         torch_case(lambda xs, p: F.elu(xs[0]), [big])),
        ("Swish in place 64x64x16x16", layerflow_case("Swish", {}, [big], in_place=True),
         torch_case(lambda xs, p: F.silu(xs[0]), [big])),
        ("GELU erf 64x64x16x16", layerflow_case("GELU", {}, [big]),
         torch_case(lambda xs, p: F.gelu(xs[0]), [big])),
        ("GELU tanh 64x64x16x16", layerflow_case("GELU", {"approximate": "tanh"}, [big]),
         torch_case(lambda xs, p: F.gelu(xs[0], approximate="tanh"), [big])),
        ("AbsVal 64x64x16x16", layerflow_case("AbsVal", {}, [big]),
         torch_case(lambda xs, p: torch.abs(xs[0]), [big])),
        ("BNLL 64x64x16x16", layerflow_case("BNLL", {}, [big]),
         torch_case(lambda xs, p: F.softplus(xs[0]), [big])),
        ("Power 2 64x64x16x16", layerflow_case("Power", {"power": 2, "shift": 1}, [big]),
         torch_case(lambda xs, p: torch.pow(1 + xs[0], 2), [big])),
        ("Power 1.5 64x64x16x16", layerflow_case("Power", {"power": 1.5, "shift": 9}, [big]),
         torch_case(lambda xs, p: torch.pow(9 + xs[0], 1.5), [big])),
        ("Exp in place 64x64x16x16", layerflow_case("Exp", {}, [big], in_place=True),
         torch_case(lambda xs, p: torch.exp(xs[0]), [big])),
        ("Log 64x64x16x16", layerflow_case("Log", {"shift": 9}, [big]),
         torch_case(lambda xs, p: torch.log(9 + xs[0]), [big])),
        ("Clip in place 64x64x16x16", layerflow_case("Clip", {"min": 0, "max": 6}, [big],
                                                     in_place=True),
         torch_case(lambda xs, p: torch.clamp(xs[0], 0, 6), [big])),
        ("SigmoidCrossEntropyLoss 256x784",
         layerflow_case("SigmoidCrossEntropyLoss", {}, [(256, 784), (256, 784)]),
         torch_case(lambda xs, p: F.binary_cross_entropy_with_logits(
             xs[0], xs[1], reduction="sum") / 256, [(256, 784), (256, 784)], [True, False])),
        ("SmoothL1Loss 256x784", layerflow_case("SmoothL1Loss", {}, [(256, 784), (256, 784)]),
         torch_case(lambda xs, p: F.smooth_l1_loss(xs[0], xs[1], reduction="sum") / 256,
                    [(256, 784), (256, 784)])),
    ]


if __name__ == "__main__":
    bench_layers_b.cases = cases
    bench_layers_b.main()
