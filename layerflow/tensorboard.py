"""TensorBoard event files of a training run, beside the JSON-lines metrics file, so that
runs can be compared in TensorBoard as well as with `layerflow plot`.

    layerflow train lenet --tensorboard runs/lenet     # then: tensorboard --logdir runs

Every record the Solver writes to its metrics file (train: smoothed loss, learning rate,
throughput; test: each test-net output) becomes a scalar `train/loss`, `test/accuracy`...
at its iteration. Writing goes through tensorboardX (the optional extra
`pip install 'layerflow[tensorboard]'`); without it the error says what to install.
"""
import numbers


class EventLog:
    """Scalars of a Solver's metric records, written as TensorBoard events into `logdir`."""

    def __init__(self, logdir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:        # a ValueError: the CLI prints it as one line
            raise ValueError("--tensorboard needs the tensorboardX package: pip install "
                              "'layerflow[tensorboard]' (or pip install tensorboardX)") from None
        self.logdir = str(logdir)
        self.writer = SummaryWriter(self.logdir)

    def attach(self, solver):
        """Also send every metric record of `solver` here (a solver callback, so the metrics
        file and the event files see the same records)."""
        solver.add_callback(self)
        return self

    def on_metric(self, solver, record):
        self.add(record)

    def add(self, record):
        """One metrics record {'iter': i, 'phase': 'train'|'test', name: value, ...}."""
        step, phase = int(record.get("iter", 0)), record.get("phase", "train")
        for key, value in record.items():
            if key in ("iter", "phase") or isinstance(value, bool) or \
                    not isinstance(value, numbers.Real):
                continue
            self.writer.add_scalar(f"{phase}/{key}", float(value), step)

    def close(self):
        self.writer.flush()
        self.writer.close()
