"""The `layerflow` command: train and test nets from YAML configs.

A user error (a config mistake, a missing or corrupt file, a shape that does not fit)
prints one line and exits with status 1; a usage error exits with status 2.
"""
import argparse
import logging
import sys
import time

from . import __version__

log = logging.getLogger("layerflow")


class _LineHandler(logging.StreamHandler):
    """Log lines to stdout; on a terminal, erase the progress bar's line first."""

    def emit(self, record):
        if self.stream.isatty():
            self.stream.write("\r\033[K")
        super().emit(record)


def _setup_logging(quiet=False):
    handler = _LineHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def cmd_train(args):
    from .solvers import Solver
    t0 = time.perf_counter()
    solver = Solver(args.config, max_iter=args.max_iter, mode=args.mode, weights=args.weights)
    solver.solve(resume=args.resume)
    last = getattr(solver, "last_test", None)
    if last:
        summary = ", ".join(f"{k} = {v:.4f}" for k, v in last.items()
                            if k not in ("iter", "phase"))
        log.info("Final test (iteration %d): %s", last["iter"], summary)
    log.info("Total time %.1f s", time.perf_counter() - t0)
    return 0


def cmd_test(args):
    from .config import load_config, solver_section
    from .net import Net
    root, file = load_config(args.config)
    iterations = args.iterations
    if iterations is None:
        solver = root.get("solver") if isinstance(root, dict) else None
        iterations = solver_section(root, file).get("test_iter", 50) if solver else 50
    net = Net(root, "test", weights=args.weights, mode=args.mode)
    sums = {}
    for i in range(iterations):
        net.forward()
        for name, blob in net.output_blobs().items():
            value = float(blob.data.mean())
            sums[name] = sums.get(name, 0.0) + value
    for name, total in sums.items():
        log.info("%s = %.6g", name, total / max(iterations, 1))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="layerflow", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"layerflow {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    train = sub.add_parser("train", help="train a net with its solver")
    train.add_argument("config", help="YAML with solver: and net: (or a solver naming a net)")
    train.add_argument("--weights", help="start from these weights (.npz), e.g. to fine-tune")
    train.add_argument("--resume", help="continue from a solver state (.state.npz)")
    train.add_argument("--mode", choices=["cpu", "cuda"], help="override solver mode")
    train.add_argument("--max-iter", type=int, help="override solver max_iter")
    train.set_defaults(func=cmd_train)

    test = sub.add_parser("test", help="score a trained net on its TEST phase")
    test.add_argument("config")
    test.add_argument("--weights", required=True, help="weights file (.npz)")
    test.add_argument("--iterations", type=int, help="batches to run (default: test_iter)")
    test.add_argument("--mode", choices=["cpu", "cuda"], default="cpu")
    test.set_defaults(func=cmd_test)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    _setup_logging(args.quiet)
    from .config import ConfigError
    from .data.mnist import DataFileError
    from .io.weights import WeightsFileError
    from .layer import ShapeError
    try:
        return args.func(args)
    except (ConfigError, WeightsFileError, DataFileError, ShapeError) as exc:
        print(f"layerflow: error: {exc}", file=sys.stderr)
    except (ValueError, FloatingPointError, OSError) as exc:
        print(f"layerflow: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("layerflow: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
