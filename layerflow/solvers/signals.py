"""Signals during `Solver.solve()`, as Caffe's SignalHandler: SIGINT, SIGTERM and SIGHUP each
map to an effect, `stop` (snapshot, then end the run cleanly), `snapshot` (snapshot and go
on) or `none` (ignore the signal). The handler only records the request; the loop acts on it
between iterations, so a snapshot never sees half-updated weights. A second SIGINT while a
stop is pending raises KeyboardInterrupt (a snapshot being written is then discarded, the
previous one stays). Handlers are installed on entry and the previous ones restored on exit,
and only in the main thread (Python delivers signals there).
"""
import signal
import threading

_NAMES = {"sigint_effect": "SIGINT", "sigterm_effect": "SIGTERM", "sighup_effect": "SIGHUP"}


class SignalActions:
    """Context manager: `with SignalActions(params) as sig: ... sig.take()`."""

    def __init__(self, p):
        self.effects = {}
        for key, name in _NAMES.items():
            signum = getattr(signal, name, None)
            if signum is not None:
                self.effects[signum] = getattr(p, key)
        self.pending = None          # None | "snapshot" | "stop"
        self.received = None         # name of the last signal acted on
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.effects:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, old in self._previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)
        self._previous.clear()
        return False

    def _handle(self, signum, frame):
        effect = self.effects.get(signum, "none")
        if effect == "none":
            return
        if effect == "stop" and self.pending == "stop" and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.pending != "stop":
            self.pending = effect
        self.received = signal.Signals(signum).name

    def take(self):
        """The pending request (then cleared): None, 'snapshot' or 'stop'."""
        request, self.pending = self.pending, None
        return request
