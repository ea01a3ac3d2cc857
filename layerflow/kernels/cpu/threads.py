"""Applying a net's thread settings, and layerflow's own chunk threads.

The settings are a value (`layerflow.runtime.Runtime`: threads, blas_threads) that each Net
holds; `apply(runtime)` puts them in force before each of the net's passes, so that two nets
with different settings in one process each run with their own. Only what differs from the
settings in force is changed (Numba's count is per calling thread and cheap to set;
OpenBLAS's limit is process-wide and goes through threadpoolctl).

OpenBLAS's worker threads and GNU OpenMP's (Numba's default `omp` threading layer) spin
while they wait for work. On a machine shared with other jobs a spinning pool collapses:
LeNet's training iteration went from ~50 ms to 240-760 ms with either pool at 2 threads
(table in docs/convolution.md). So Numba runs on its `workqueue` layer (workers sleep when
idle) unless NUMBA_THREADING_LAYER is set: a process-wide choice made once, at import,
before any parallel kernel starts. The convolution layers parallelise themselves:
`run_parallel` hands parts to a team of Python helper threads plus the caller, whose heavy
work (BLAS products, `nogil` kernels) runs without the GIL; `matmul` splits one large product
the same way.

The team's helpers spin for their next part, without the GIL, for a millisecond after each
one, and the caller spins for their done flags (atomics.py): on the 2-vCPU test VM (idle
vCPUs halt at once) waking a sleeping thread took 40-70 us, twice per pass, and MobileNet at
batch 1 runs 15 such passes in 15 ms. Spinning only while the CPUs are free: when other work
is runnable (/proc/loadavg) helpers and caller sleep instead, as a sleeping pool does, since
spinning threads that share a CPU with another process collapse (25 -> 98 ms, one busy
process on two CPUs). LAYERFLOW_SPIN=0 makes them always sleep.
"""
import os
import queue
import threading
import time

import numba
import numpy as np

from . import atomics

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"      # takes effect before the first launch

_blas_in_force = None       # OpenBLAS's limit as last set: a fact about the process


def apply(runtime):
    """Put `runtime.threads` (Numba) and `runtime.blas_threads` (numpy's OpenBLAS) in force."""
    n = max(1, min(runtime.threads, numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)
    set_blas_threads(runtime.blas_threads or runtime.threads)


def set_blas_threads(limit):
    """Limit numpy's OpenBLAS (only it: a BLAS another library brought, such as PyTorch's
    MKL, keeps its own) to `limit` threads, when that is not already in force."""
    global _blas_in_force
    if limit != _blas_in_force:
        from threadpoolctl import ThreadpoolController
        ThreadpoolController().select(internal_api="openblas").limit(limits=limit)
        _blas_in_force = limit


SPLIT_FLOPS = 2e6         # products smaller than this run whole on the calling thread


def matmul(a, b, out, parts=1, then=None):
    """out = a @ b (2-D), cut into `parts` slabs of out's longer side when the product is
    large, each one BLAS call run by a small pool of Python threads (numpy releases the GIL
    inside BLAS). Callers pass parts > 1 only where OpenBLAS is held at one thread
    (`Runtime.product_parts`); the threads are run_parallel's team. `then(r0, r1, c0, c1)`, if
    given, runs on each slab of out (rows, columns) by the thread that wrote it, while it
    is in cache (a convolution's folded BatchNorm)."""
    m, n = out.shape
    if parts < 2 or 2.0 * m * n * a.shape[1] < SPLIT_FLOPS:
        np.matmul(a, b, out=out)
        if then is not None:
            then(0, m, 0, n)
        return out
    if n >= m:
        step = -(-n // parts)

        def slab(t):
            np.matmul(a, b[:, t * step:(t + 1) * step], out=out[:, t * step:(t + 1) * step])
            if then is not None:
                then(0, m, t * step, min(n, (t + 1) * step))
    else:
        step = -(-m // parts)

        def slab(t):
            np.matmul(a[t * step:(t + 1) * step], b, out=out[t * step:(t + 1) * step])
            if then is not None:
                then(t * step, min(m, (t + 1) * step), 0, n)
    run_parallel(slab, -(-max(m, n) // step))
    return out


def run_parallel(fn, parts):
    """fn(0) .. fn(parts - 1), fn(0) on the calling thread and the rest on the team's
    helpers; the functions must release the GIL for their heavy work (BLAS, nogil kernels)
    and write only what their index owns. The first exception any part raised is raised
    after all parts are done. A call made while the team is busy (from inside a part, or
    from another thread) runs its parts one after another on its own thread."""
    if parts <= 1:
        fn(0)
        return
    global _team
    if _team is None:
        with _team_lock:
            if _team is None:
                _team = _Team(MAX_HELPERS)
    if parts - 1 > _team.n or not _team.lock.acquire(blocking=False):
        for t in range(parts):
            fn(t)
        return
    team = _team
    try:
        team.run(fn, parts)
    except KeyboardInterrupt:       # it may have come between a part's flag and its token
        team.retire()
        with _team_lock:
            if _team is team:
                _team = None
        raise
    finally:
        team.lock.release()


SPIN = os.environ.get("LAYERFLOW_SPIN", "1") != "0"    # 0: helpers and caller always sleep
MAX_HELPERS = 255          # parts beyond 256 run one after another
IDLE_SECONDS = 1e-3        # how long a helper spins for its next part before it sleeps
HEAD_START_SECONDS = 1.5e-5  # how long the caller leaves the GIL to the helpers it posted to
WAIT_SECONDS = 3e-4        # how long the caller spins for a part before it polls
POLL_SECONDS = 5e-5
CHECK_SECONDS = 0.05       # how often the CPUs are looked at (/proc/loadavg)
_team = None
_team_lock = threading.Lock()


def _forget_team():
    """A forked child has none of the parent's helper threads: it starts its own."""
    global _team, _team_lock
    _team, _team_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_team)


class _Team:
    """Helper threads 1..n for run_parallel, started when first needed.

    Each helper waits for the number of the call it is part of in its line of `go`, runs
    its part, and writes that number into its line of `done`. While spinning is allowed
    (`_spin_allowed`) the caller posts a part by its flag (a helper spinning for it starts
    at once; `tokens` also wake one that spun out and sleeps) and spins for the done
    flags; otherwise helpers sleep on `tokens` and the caller on `finished`. A Ctrl-C
    reaching the caller while it waits is raised once every part is done."""

    def __init__(self, helpers):
        self.n = helpers
        self.lock = threading.Lock()           # one call at a time
        self.go = atomics.flags(helpers + 1)   # line t: the number of t's latest call
        self.done = atomics.flags(helpers + 1)
        self.tokens = [queue.SimpleQueue() for _ in range(helpers + 1)]    # one per part
        self.finished = threading.Condition()  # notified by each part done (not spinning)
        self.awake = [False] * (helpers + 1)   # helpers that may be spinning now
        self.started = 0
        self.dead = False
        self.calls = 0
        self.fn, self.errors, self.spin = None, [], False
        self.spinning, self.crowded, self.next_check = False, 2, 0.0
        self.cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        self.idle = atomics.spins_for(IDLE_SECONDS)
        self.head = atomics.spins_for(HEAD_START_SECONDS)
        self.wait = atomics.spins_for(WAIT_SECONDS)

    def run(self, fn, parts):
        while self.started < parts - 1:
            self.started += 1
            threading.Thread(target=self._helper, args=(self.started,), daemon=True,
                             name=f"layerflow-{self.started}").start()
        spin = self._spin_allowed(parts)
        self.calls += 1
        call = self.calls
        self.fn, self.errors, self.spin = fn, [], spin
        if spin:    # tokens first: a helper that sees its flag takes its token at once
            for t in range(1, parts):
                self.tokens[t].put(None)
            for t in range(1, parts - 1):
                atomics.publish(self.go, t * atomics.STRIDE, call)
            atomics.post(self.go, (parts - 1) * atomics.STRIDE, call, self.head)
        else:       # flags first: a helper woken by its token finds its flag set
            for t in range(1, parts):
                atomics.publish(self.go, t * atomics.STRIDE, call)
                self.tokens[t].put(None)
        try:
            fn(0)
        finally:
            interrupted = None
            for t in range(1, parts):
                while True:     # every part done before anything is raised, even Ctrl-C
                    try:
                        self._wait(t, call, spin)
                        break
                    except KeyboardInterrupt as exc:
                        interrupted = exc
            if interrupted is not None:
                raise interrupted
        if self.errors:
            raise self.errors[0]

    def retire(self):
        """End the helpers (each after the part it may be running): a Ctrl-C can leave the
        flags and tokens out of step, so run_parallel starts a new team."""
        self.dead = True
        for t in range(1, self.started + 1):
            atomics.publish(self.go, t * atomics.STRIDE, -1)
            self.tokens[t].put(None)

    def _wait(self, t, call, spin):
        """Until part t of `call` is done: by spinning (then polling), or asleep on
        `finished`; state is only the done flag, so an interrupted wait can start again."""
        i = t * atomics.STRIDE
        if spin:
            while not atomics.wait_for(self.done, i, call, self.wait):
                time.sleep(POLL_SECONDS)             # a long part
            return
        with self.finished:
            while not atomics.wait_for(self.done, i, call, 0):
                self.finished.wait()

    def _helper(self, t):
        i = t * atomics.STRIDE
        seen = v = 0
        while True:
            if v == seen:                            # spun out: sleep until posted to
                self.awake[t] = False
                self.tokens[t].get()
                self.awake[t] = True
                while v == seen:
                    v = atomics.wait_change(self.go, i, seen, self.idle)
            else:
                self.tokens[t].get()                 # put before the flag: no wait
            if self.dead:
                return
            seen = v
            try:
                self.fn(t)
            except BaseException as exc:
                self.errors.append(exc)
            if self.spin:   # the caller spins for the flag: publish, then spin, off the GIL
                v = atomics.publish_and_wait(self.done, i, seen, self.go, i, seen, self.idle)
            else:
                atomics.publish(self.done, i, seen)
                with self.finished:
                    self.finished.notify_all()

    def _spin_allowed(self, parts):
        """Whether the threads of other work that are runnable now (the 4th field of
        /proc/loadavg, less this caller and the helpers that spin) leave a CPU to each of
        `parts`. Read at most every CHECK_SECONDS; two readings in a row that say no stop
        the spinning, and it starts again at the first yes. With one other busy process on
        two CPUs, spinning helpers and a spinning caller took the CPU from each other:
        MobileNet at batch 1 went from 25 to 98 ms."""
        if not SPIN:
            return False
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + CHECK_SECONDS
            try:
                with open("/proc/loadavg", "rb") as f:
                    running = int(f.read().split()[3].split(b"/")[0])
            except (OSError, ValueError, IndexError):
                running = 2 * self.cpus + parts            # no way to know: do not spin
            crowded = running - 1 - sum(self.awake) + parts > self.cpus
            self.crowded = self.crowded + 1 if crowded else 0
            self.spinning = self.crowded < 2
        return self.spinning
