"""Learning-rate policies, as Caffe defines them, plus cosine and linear warmup.

fixed      base_lr
step       base_lr * gamma ^ floor(iter / stepsize)
exp        base_lr * gamma ^ iter
inv        base_lr * (1 + gamma * iter) ^ (-power)
multistep  base_lr * gamma ^ (number of stepvalue entries <= iter)
poly       base_lr * (1 - iter / max_iter) ^ power
sigmoid    base_lr * 1 / (1 + exp(-gamma * (iter - stepsize)))
cosine     min_lr + (base_lr - min_lr) * (1 + cos(pi * iter / max_iter)) / 2
warmup     with warmup_iter > 0, the rate rises linearly over the first warmup_iter
           iterations, (iter + 1) / warmup_iter times whatever the policy gives.
"""
import bisect
import math


def learning_rate(p, it):
    """The rate at iteration `it` for SolverParams `p`."""
    policy = p.lr_policy
    if policy == "fixed":
        rate = p.base_lr
    elif policy == "step":
        rate = p.base_lr * p.gamma ** (it // p.stepsize)
    elif policy == "exp":
        rate = p.base_lr * p.gamma ** it
    elif policy == "inv":
        rate = p.base_lr * (1.0 + p.gamma * it) ** (-p.power)
    elif policy == "multistep":
        rate = p.base_lr * p.gamma ** bisect.bisect_right(p.stepvalue, it)
    elif policy == "poly":
        rate = p.base_lr * max(0.0, 1.0 - it / max(p.max_iter, 1)) ** p.power
    elif policy == "sigmoid":
        rate = p.base_lr / (1.0 + math.exp(-p.gamma * (it - p.stepsize)))
    elif policy == "cosine":
        lo = getattr(p, "min_lr", 0.0)
        rate = lo + (p.base_lr - lo) * 0.5 * (1.0 + math.cos(math.pi * min(it, p.max_iter)
                                                             / max(p.max_iter, 1)))
    else:  # pragma: no cover - SolverParams' Literal rules this out
        raise ValueError(f"unknown lr_policy '{policy}'")
    if p.warmup_iter and it < p.warmup_iter:
        rate *= (it + 1) / p.warmup_iter
    return rate
