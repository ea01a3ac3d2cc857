"""The `layerflow` command: train and test nets from YAML configs, and the tools around them.

    layerflow train | test | predict | models | time | draw | plot | gradcheck
              | import-caffe | export-caffe | export-onnx | layers | device | data fetch

CONFIG may be a path or the name of a packaged model (`layerflow models`); a path wins.

A user error (a config mistake, a missing or corrupt file, a shape that does not fit)
prints one line and exits with status 1; a usage error exits with status 2.
"""
import argparse
import contextlib
import logging
import sys
import time

from . import __version__

log = logging.getLogger("layerflow")


class _LineHandler(logging.StreamHandler):
    """Log lines to stdout (whatever sys.stdout is when a line is written, so that a
    replaced or captured stdout is honoured); on a terminal, erase the progress bar's line
    first."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass

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
    world = _mpi_world(args)
    runtime = None
    if world is not None:
        from .config import load_config, solver_section
        from .runtime import Runtime
        solver_cfg = solver_section(*load_config(args.config))
        runtime = Runtime.create(mode=args.mode or solver_cfg.get("mode"),
                                 device_id=solver_cfg.get("device_id"),
                                 threads=args.threads or solver_cfg.get("threads") or None,
                                 rank=world.rank, world_size=world.size,
                                 local_size=world.local_size)
        log.info("MPI job of %d ranks (%d on this host): %d thread(s) per rank (--threads, "
                 "the solver's threads, LAYERFLOW_NUM_THREADS or OMP_NUM_THREADS, else the "
                 "host's cores / its ranks)", world.size, world.local_size, runtime.threads)
    board = None
    if getattr(args, "tensorboard", None):       # before the build: a missing package fails fast
        from .tensorboard import EventLog
        board = EventLog(args.tensorboard)
    try:
        solver = Solver(args.config, max_iter=args.max_iter, mode=args.mode,
                        weights=args.weights, threads=args.threads, runtime=runtime)
        if world is not None:
            from .parallel import attach
            attach(solver, world)
        elif solver.p.mpi:
            raise ValueError(f"{args.config}: the solver sets 'mpi: true', but this process "
                             "was not started by an MPI launcher: run mpirun -n K layerflow "
                             "train ...")
        if board is not None and (world is None or world.root):
            board.attach(solver)
        solver.solve(resume=args.resume)
    finally:
        if board is not None:
            board.close()
    last = getattr(solver, "last_test", None)
    if last:
        summary = ", ".join(f"{k} = {v:.4f}" for k, v in last.items()
                            if k not in ("iter", "phase"))
        log.info("Final test (iteration %d): %s", last["iter"], summary)
    log.info("Total time %.1f s", time.perf_counter() - t0)
    return 0


def _runtime(args, root, file):
    """The runtime of a command: its flags, else the config's solver block, else the
    environment (layerflow.runtime)."""
    from .config import solver_section
    from .runtime import Runtime
    solver = solver_section(root, file) if isinstance(root, dict) and root.get("solver") \
        else {}
    return Runtime.create(mode=args.mode or solver.get("mode"),
                          device_id=solver.get("device_id"),
                          threads=args.threads or solver.get("threads") or None)


def _mpi_world(args):
    """The MPI job this process is a rank of (None for a plain run); keeps the log of ranks
    other than 0 to warnings."""
    from .parallel import comm
    if not (args.mpi or comm.launched_by_mpi()):
        return None
    world = comm.World()
    _MPI_WORLD.append(world)
    if not world.root:
        log.setLevel(logging.WARNING)
    return world


_MPI_WORLD = []          # the MPI job of this process, once train has joined it


def cmd_test(args):
    from .config import Where, load_config, solver_section
    from .config.errors import shown
    from .io.weights import copy_weights
    from .net import Net
    root, file = load_config(args.config)
    iterations = args.iterations
    if iterations is None:
        solver = root.get("solver") if isinstance(root, dict) else None
        iterations = solver_section(root, file).get("test_iter", 50) if solver else 50
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
            raise Where(file).at(solver, "test_iter").error(
                f"'test_iter' must be a count of batches, got {shown(iterations)}")
    net = Net(root, "test", runtime=_runtime(args, root, file))
    copy_weights(net, args.weights, require_all=True)    # every param, all finite
    sums = {}
    for i in range(iterations):
        net.forward()
        for name, blob in net.output_blobs().items():
            value = float(blob.cpu_data.mean())
            sums[name] = sums.get(name, 0.0) + value
    for name, total in sums.items():
        log.info("%s = %.6g", name, total / max(iterations, 1))
    return 0


@contextlib.contextmanager
def _quiet_build(args):
    """Keep the Net's per-layer shape lines out of a tool's own output (unless -v)."""
    level = log.level
    if not getattr(args, "verbose", False):
        log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


def cmd_predict(args):
    from .predict import Predictor, format_results
    with _quiet_build(args):
        predictor = Predictor(args.config, args.weights, batch=args.batch, mode=args.mode)
    results = predictor.predict(args.inputs, top=args.top)
    print(format_results(results, as_json=args.json))
    return 0


def cmd_models(args):
    from .zoo import listing
    print(listing())
    return 0


def cmd_time(args):
    from .config import load_config
    from .timing import format_report, time_net
    root, file = load_config(args.config)
    with _quiet_build(args):
        report = time_net(root, iterations=args.iterations, phase=args.phase,
                          runtime=_runtime(args, root, file))
    print(format_report(report))
    return 0


def cmd_draw(args):
    from .draw import draw
    with _quiet_build(args):
        messages = draw(args.config, args.output, phase=args.phase, rankdir=args.rankdir,
                        use_graphviz=not args.no_graphviz)
    for m in messages:
        print(m)
    return 0


def cmd_plot(args):
    from .plot import load_runs, plot_runs
    runs = load_runs(args.sources)
    panels = plot_runs(runs, args.output, title=args.title)
    print(f"wrote {args.output} ({len(runs)} run(s); panels: {', '.join(panels)})")
    return 0


def cmd_gradcheck(args):
    from .gradcheck import GradientChecker
    from .gradcheck_cli import check_layer_type, check_net, format_result, parse_params, parse_shape
    from .registry import import_plugin
    for module in args.plugin or ():
        import_plugin(module)
    if (args.config is None) == (args.layer is None):
        raise ValueError("give a CONFIG or --layer TYPE (one of them)")
    checker = GradientChecker(max_elements=args.max_elements or None, stepsize=args.stepsize,
                             threshold=args.threshold, kink=0.0, kink_range=args.kink_range)
    failed = 0
    if args.layer:
        shapes = [parse_shape(s) for s in args.shape or ()]
        result, title = check_layer_type(args.layer, parse_params(args.params), shapes,
                                         args.tops, checker, phase=args.phase.upper())
        print(format_result(title, result, args.threshold))
        failed += not result.ok
    else:
        if args.params or args.shape:
            raise ValueError("--params and --shape go with --layer, not with a CONFIG")
        with _quiet_build(args):
            results = check_net(args.config, batch=args.batch, checker=checker,
                                layers=args.only)
        for layer, result in results:
            print(format_result(f"{layer.name} ({layer.type_name})", result, args.threshold))
            failed += not result.ok
        if not results:
            print("no layer of this net has a gradient to check")
    print("gradient check " + ("FAILED" if failed else "passed") +
          f" (threshold {args.threshold:g}, step {args.stepsize:g}, float64)")
    return 1 if failed else 0


def cmd_import_caffe(args):
    from pathlib import Path

    from .config.caffe_import import import_caffe
    if args.weights and not args.output:
        raise ValueError("import-caffe: --weights needs -o OUT.yaml (the weights "
                         "go to OUT.weights.npz)")
    result = import_caffe(args.prototxt, known_datasets=not args.lmdb, net_path=args.net)
    text = result.to_yaml(line_map=bool(args.output))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for line, message in result.problems:
        print(f"warning: {args.prototxt}:{line}: {message}", file=sys.stderr)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}" + (f" ({len(result.problems)} warning(s))"
                                if result.problems else ""), file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.weights:
        from .io.caffemodel import import_caffemodel_weights
        with _quiet_build(args):
            path, n, notes = import_caffemodel_weights(result.config, args.weights, out)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"wrote {path} ({n} arrays)", file=sys.stderr)
    return 0


def cmd_export_caffe(args):
    from .io.caffe_export import export_caffe
    with _quiet_build(args):
        proto, model, notes = export_caffe(args.config, args.weights, args.output)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {proto} and {model}")
    return 0


def cmd_export_onnx(args):
    from .io.onnx_export import export_config, onnx_names
    with _quiet_build(args):
        model, _net = export_config(args.config, args.weights, args.output, opset=args.opset)
    ins, outs = onnx_names(model)
    print(f"wrote {args.output}: {len(model.graph.node)} nodes, inputs {', '.join(ins)}, "
          f"outputs {', '.join(outs)} (opset {args.opset})")
    return 0


def cmd_layers(args):
    from .catalogue import catalogue, describe
    for module in args.plugin or ():
        from .registry import import_plugin
        import_plugin(module)
    print(describe(args.type) if args.type else catalogue())
    return 0


def cmd_device(args):
    from .device import report
    print(report())
    return 0


def cmd_data_fetch(args):
    try:
        from .data.fetch import fetch_dataset
    except ImportError as exc:
        raise ValueError("dataset download is not available in this version of layerflow "
                         f"(layerflow.data.fetch: {exc})") from None
    result = fetch_dataset(args.name)
    if result is not None:
        print(result)
    return 0


def _no_plugins_flag(parser):
    parser.add_argument("--no-plugins", action="store_true",
                        help="refuse the config's plug-in imports (plugins:, module:Class); "
                             "for configs from elsewhere (docs/reliability.md)")


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
    train.add_argument("--threads", type=int, help="threads (per rank under MPI; default: the "
                                                   "cores, divided among the host's ranks)")
    train.add_argument("--mpi", action="store_true",
                       help="require data-parallel training over MPI (run under mpirun); "
                            "started by mpirun it is on anyway")
    _no_plugins_flag(train)
    train.add_argument("--tensorboard", metavar="LOGDIR",
                       help="also write TensorBoard event files there (needs tensorboardX: "
                            "pip install 'layerflow[tensorboard]')")
    train.set_defaults(func=cmd_train)

    test = sub.add_parser("test", help="score a trained net on its TEST phase")
    test.add_argument("config")
    test.add_argument("--weights", required=True, help="weights file (.npz)")
    test.add_argument("--iterations", type=int, help="batches to run (default: test_iter)")
    test.add_argument("--mode", choices=["cpu", "cuda"], help="default: the solver's mode")
    test.add_argument("--threads", type=int)
    _no_plugins_flag(test)
    test.set_defaults(func=cmd_test)

    pr = sub.add_parser("predict", help="classify images, .npy arrays or dataset records")
    pr.add_argument("config", help="the train/test config (or model name) the weights fit")
    pr.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="image files, .npy arrays, or mnist:test[0:10]")
    pr.add_argument("--weights", required=True, help="weights file (.npz)")
    pr.add_argument("--top", type=int, default=5, help="classes shown per input (default 5)")
    pr.add_argument("--json", action="store_true", help="one JSON document, for machines")
    pr.add_argument("--batch", type=int, help="inputs per forward pass (default: the data "
                                              "layer's batch size)")
    pr.add_argument("--mode", choices=["cpu", "cuda"], default="cpu")
    pr.add_argument("-v", "--verbose", action="store_true", help="show the net's shapes")
    pr.set_defaults(func=cmd_predict)

    mo = sub.add_parser("models", help="the model zoo shipped in the package")
    mo.set_defaults(func=cmd_models)

    tm = sub.add_parser("time", help="per-layer forward/backward ms and the memory footprint")
    tm.add_argument("config")
    tm.add_argument("--iterations", type=int, default=50, help="timed iterations (default 50)")
    tm.add_argument("--phase", choices=["train", "test"], default="train")
    tm.add_argument("--mode", choices=["cpu", "cuda"], help="default: the solver's mode")
    tm.add_argument("--threads", type=int)
    tm.add_argument("-v", "--verbose", action="store_true", help="show the net's shapes")
    _no_plugins_flag(tm)
    tm.set_defaults(func=cmd_time)

    dr = sub.add_parser("draw", help="picture of the layer graph (.svg, .png or .dot)")
    dr.add_argument("config")
    dr.add_argument("-o", "--output", required=True, help="net.svg, net.png or net.dot")
    dr.add_argument("--phase", choices=["train", "test"], default="train")
    dr.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB",
                    help="Graphviz direction (the built-in layout is always top-down)")
    dr.add_argument("--no-graphviz", action="store_true",
                    help="use the built-in layout even where Graphviz is installed")
    dr.add_argument("-v", "--verbose", action="store_true")
    _no_plugins_flag(dr)
    dr.set_defaults(func=cmd_draw)

    pl = sub.add_parser("plot", help="training curves from metrics files or logs")
    pl.add_argument("sources", nargs="+", metavar="RUN_OR_METRICS",
                    help="*_metrics.jsonl, a folder of them, a config, or a text log")
    pl.add_argument("-o", "--output", required=True, help="curves.png (or .svg, .pdf)")
    pl.add_argument("--title")
    pl.set_defaults(func=cmd_plot)

    gc = sub.add_parser("gradcheck", help="numerical gradient check of a layer or a net")
    gc.add_argument("config", nargs="?", help="check every layer of this net (TRAIN phase)")
    gc.add_argument("--layer", metavar="TYPE", help="check one layer type (or pkg.mod:Class)")
    gc.add_argument("--params", nargs="*", metavar="K=V", help="layer params, values as YAML")
    gc.add_argument("--shape", action="append", metavar="N,C,H,W",
                    help="a bottom's shape (repeat per bottom; default 2,3,4,5)")
    gc.add_argument("--tops", type=int, help="number of tops (default: the layer's minimum)")
    gc.add_argument("--phase", choices=["train", "test"], default="train")
    gc.add_argument("--batch", type=int, default=2, help="data batch for a CONFIG (default 2)")
    gc.add_argument("--only", nargs="*", metavar="LAYER", help="check only these layers")
    gc.add_argument("--max-elements", type=int, default=200,
                    help="elements checked per blob, drawn at random (0: all; default 200)")
    gc.add_argument("--stepsize", type=float, default=1e-5)
    gc.add_argument("--threshold", type=float, default=1e-5)
    gc.add_argument("--kink-range", type=float, default=1e-4,
                    help="skip inputs this close to 0 (ReLU's kink)")
    gc.add_argument("--plugin", action="append", metavar="MODULE",
                    help="import a module that registers layers")
    gc.add_argument("-v", "--verbose", action="store_true")
    _no_plugins_flag(gc)
    gc.set_defaults(func=cmd_gradcheck)

    ic = sub.add_parser("import-caffe", help="convert a Caffe net or solver prototxt to YAML")
    ic.add_argument("prototxt")
    ic.add_argument("-o", "--output", help="YAML file to write (default: print it)")
    ic.add_argument("--net", help="the net prototxt, where the solver's 'net:' path is not "
                                  "found")
    ic.add_argument("--lmdb", action="store_true",
                    help="map every Data layer to LMDBData (by default a source naming mnist "
                         "or cifar becomes MNISTData / CIFAR10Data)")
    ic.add_argument("--weights", metavar="MODEL.caffemodel",
                    help="also convert these weights to OUT.weights.npz (needs -o)")
    ic.add_argument("-v", "--verbose", action="store_true")
    ic.set_defaults(func=cmd_import_caffe)

    ec = sub.add_parser("export-caffe", help="write the TEST net as a Caffe prototxt and its "
                                             "weights as a .caffemodel beside it")
    ec.add_argument("config")
    ec.add_argument("--weights", help="weights file (.npz); default: the fillers' values")
    ec.add_argument("-o", "--output", required=True, help="out.prototxt (and out.caffemodel)")
    ec.add_argument("-v", "--verbose", action="store_true")
    ec.set_defaults(func=cmd_export_caffe)

    ex = sub.add_parser("export-onnx", help="export the deploy (TEST) net to ONNX")
    ex.add_argument("config")
    ex.add_argument("--weights", required=True, help="weights file (.npz)")
    ex.add_argument("-o", "--output", required=True, help="model.onnx")
    ex.add_argument("--opset", type=int, default=13)
    ex.add_argument("-v", "--verbose", action="store_true")
    _no_plugins_flag(ex)
    ex.set_defaults(func=cmd_export_onnx)

    ly = sub.add_parser("layers", help="catalogue of layer types and their params")
    ly.add_argument("type", nargs="?", help="show one type's params")
    ly.add_argument("--plugin", action="append", metavar="MODULE")
    ly.set_defaults(func=cmd_layers)

    dv = sub.add_parser("device", help="CPU, threads, CUDA and MPI facts")
    dv.set_defaults(func=cmd_device)

    da = sub.add_parser("data", help="datasets")
    dsub = da.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    fe = dsub.add_parser("fetch", help="download a dataset into $LAYERFLOW_DATA")
    fe.add_argument("name", help="e.g. mnist")
    fe.set_defaults(func=cmd_data_fetch)
    return parser


def _imported_from(exc):
    """' (written in net.prototxt:52)' for an error at a line of a YAML that import-caffe
    wrote, so that the user is sent to the file they wrote."""
    from .config import ConfigError
    if not isinstance(exc, ConfigError) or not exc.file or exc.line is None:
        return ""
    from .config.caffe_import import prototxt_origin
    origin = prototxt_origin(exc.file, exc.line)
    return f" (written in {origin[0]}:{origin[1]})" if origin else ""


# commands whose CONFIG may name a packaged model (layerflow/zoo.py)
_NAMED_CONFIG = ("train", "test", "predict", "time", "draw", "gradcheck", "export-onnx")


def main(argv=None):
    args = build_parser().parse_args(argv)
    _setup_logging(args.quiet)
    from .config import ConfigError
    from .data.mnist import DataFileError
    from .io.weights import WeightsFileError
    from .layer import ShapeError
    from .registry import plugins_allowed
    from .runtime import DeviceUnavailable
    try:
        with plugins_allowed(not getattr(args, "no_plugins", False)):
            if args.command in _NAMED_CONFIG and getattr(args, "config", None):
                from .zoo import resolve
                args.config = str(resolve(args.config))
            if args.command == "train" and _under_mpi(args):
                return _run_rank(args)
            return args.func(args)
    except (ConfigError, WeightsFileError, DataFileError, ShapeError,
            DeviceUnavailable) as exc:
        print(f"layerflow: error: {exc}{_imported_from(exc)}", file=sys.stderr)
    except (ValueError, FloatingPointError, OSError) as exc:
        print(f"layerflow: error: {exc}", file=sys.stderr)
    except (ImportError, TypeError) as exc:
        if args.command in ("train", "test"):
            raise
        print(f"layerflow: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("layerflow: interrupted", file=sys.stderr)
        return 130
    return 1


def _under_mpi(args):
    from .parallel.comm import launched_by_mpi
    return args.mpi or launched_by_mpi()


def _run_rank(args):
    """One rank of an MPI job: any error on this rank ends the whole job (Abort), so that
    the other ranks never wait for it in a collective."""
    try:
        return args.func(args)
    except BaseException as exc:
        if not _MPI_WORLD or (isinstance(exc, SystemExit) and not exc.code):
            raise
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, (ValueError, OSError, FloatingPointError, KeyboardInterrupt)):
            import traceback                   # a bug, not a user error: show where
            traceback.print_exc()
            message = f"{type(exc).__name__}: {message}"
        _MPI_WORLD[0].abort(message)


if __name__ == "__main__":
    sys.exit(main())
