"""layerflow's own thread pool: every part runs, and an error surfaces only after all
parts have finished (none may still write a buffer when the caller moves on)."""
import threading
import time

import numpy as np
import pytest

from layerflow.kernels.cpu.threads import run_parallel


def test_every_part_runs_once_on_its_own_index():
    seen = []
    lock = threading.Lock()

    def part(t):
        with lock:
            seen.append(t)
    run_parallel(part, 4)
    assert sorted(seen) == [0, 1, 2, 3]


def test_an_error_waits_for_the_other_parts():
    finished = []

    def part(t):
        if t == 1:
            raise RuntimeError("part 1 failed")
        if t == 2:
            time.sleep(0.2)
            finished.append(t)
    with pytest.raises(RuntimeError, match="part 1 failed"):
        run_parallel(part, 3)
    assert finished == [2]


@pytest.mark.parametrize("shape", [(300, 200, 500), (500, 200, 300), (7, 3, 5)])
def test_product_split_into_slabs_equals_numpy(monkeypatch, shape):
    """Wide, tall (split by columns, by rows) and too small to split, over 3 threads."""
    import layerflow.kernels.cpu.threads as threads
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    out = np.full((m, n), np.nan)
    np.testing.assert_allclose(threads.matmul(a, b, out, 3), a @ b, rtol=1e-12, atol=1e-11)


@pytest.fixture(params=["spinning", "sleeping"])
def team_mode(request, monkeypatch):
    """Run a test with the team's helpers spinning between parts (a free machine) and
    sleeping (other work runnable): the two hand-over protocols."""
    import layerflow.kernels.cpu.threads as threads
    run_parallel(lambda t: None, 2)                      # the team exists
    monkeypatch.setattr(threads._Team, "_spin_allowed",
                        lambda self, parts: request.param == "spinning")
    return request.param


def test_many_calls_in_a_row_each_see_their_own_parts(team_mode):
    """Back-to-back calls (as a net's layers make them) with changing part counts: each
    part of each call runs once, after the parts of the call before."""
    out = np.zeros((200, 5), np.int64)
    for call in range(200):
        parts = 2 + call % 4

        def part(t, call=call):
            out[call, t] = call * 10 + t + 1
        run_parallel(part, parts)
        assert list(out[call, :parts]) == [call * 10 + t + 1 for t in range(parts)]


def test_errors_surface_in_both_modes(team_mode):
    def part(t):
        if t == 2:
            raise ValueError(f"bad part {t}")
    with pytest.raises(ValueError, match="bad part 2"):
        run_parallel(part, 3)
    run_parallel(lambda t: None, 3)                       # the team still works after


def test_a_call_from_inside_a_part_runs_its_parts_on_that_thread(team_mode):
    """The team runs one call at a time: a nested call (InnerProduct's backward at 4+
    threads splits each of its two products again) runs its own parts in a row."""
    seen = []
    lock = threading.Lock()

    def inner(t):
        with lock:
            seen.append(("inner", t, threading.get_ident()))

    def outer(t):
        run_parallel(inner, 3)
    run_parallel(outer, 2)
    assert sorted(t for kind, t, _ in seen) == [0, 0, 1, 1, 2, 2]


def test_two_threads_calling_at_once_both_finish():
    results = {}

    def caller(name):
        total = np.zeros(4)
        for _ in range(50):
            def part(t):
                total[t] += 1
            run_parallel(part, 4)
        results[name] = total.copy()
    threads_ = [threading.Thread(target=caller, args=(k,)) for k in "ab"]
    for th in threads_:
        th.start()
    for th in threads_:
        th.join(timeout=60)
    assert {k: list(v) for k, v in results.items()} == {"a": [50.0] * 4, "b": [50.0] * 4}


def test_flags_are_seen_across_threads():
    from layerflow.kernels.cpu import atomics
    flags = atomics.flags(2)
    assert flags.size == 2 * atomics.STRIDE
    assert not atomics.wait_for(flags, atomics.STRIDE, 7, 10)       # never set: gives up
    th = threading.Timer(0.05, lambda: atomics.publish(flags, atomics.STRIDE, 7))
    th.start()
    while not atomics.wait_for(flags, atomics.STRIDE, 7, 1000):
        pass
    th.join()
    assert atomics.wait_change(flags, atomics.STRIDE, 0, 1) == 7
    assert atomics.spins_for(1e-4) >= 1


def test_spinning_stops_while_other_work_holds_the_cpus(monkeypatch):
    """Two readings in a row with more runnable threads than the CPUs leave to the parts
    stop the spinning; the first free reading starts it again; no /proc, no spinning."""
    import io

    import layerflow.kernels.cpu.threads as threads
    team = threads._Team(1)
    team.cpus = 2
    runnable = [1]

    def fake_open(path, mode="r"):
        assert path == "/proc/loadavg"
        return io.BytesIO(f"0.50 0.40 0.30 {runnable[0]}/80 4242\n".encode())
    monkeypatch.setattr(threads, "open", fake_open, raising=False)

    def reading(n):
        runnable[0] = n
        team.next_check = 0.0
        return team._spin_allowed(2)
    assert reading(1)                    # the caller alone: its helper has a CPU
    assert reading(3)                    # one other busy thread: not yet
    assert not reading(3)                # twice in a row: stop
    team.awake[1] = True
    assert reading(2)                    # the caller and its spinning helper: free again
    runnable[0] = 9
    assert team._spin_allowed(2) and team._spin_allowed(2)     # not read again so soon

    def missing(path, mode="r"):
        raise FileNotFoundError(path)
    monkeypatch.setattr(threads, "open", missing, raising=False)
    team.next_check = 0.0
    team._spin_allowed(2)
    team.next_check = 0.0
    assert not team._spin_allowed(2)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_runs_parts_with_its_own_helpers():
    import os
    run_parallel(lambda t: None, 2)                  # the parent's team exists
    pid = os.fork()
    if pid == 0:                                     # the child: parts must still run
        out = np.zeros(3)

        def part(t):
            out[t] = t + 1
        try:
            run_parallel(part, 3)
            os._exit(0 if list(out) == [1.0, 2.0, 3.0] else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("the forked child hung in run_parallel")


def test_ctrl_c_in_the_caller_waits_for_the_other_parts(team_mode):
    """A KeyboardInterrupt while the caller waits is raised only after every part is done
    (a part still writing its buffer would corrupt what the caller reads next); the next
    call runs normally (on a new team: the old one is retired)."""
    import _thread
    finished = []

    def part(t):
        if t == 1:                           # a helper: Ctrl-C reaches the waiting caller
            time.sleep(0.05)
            _thread.interrupt_main()
            time.sleep(0.2)
            finished.append(t)
    with pytest.raises(KeyboardInterrupt):
        run_parallel(part, 2)
        time.sleep(1)                        # (if the interrupt came late, it comes here)
    assert finished == [1]
    out = np.zeros(2)

    def fill(t):
        out[t] = t + 1
    run_parallel(fill, 2)
    assert list(out) == [1.0, 2.0]
