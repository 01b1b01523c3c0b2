"""fermask._parallel: ordered results on every engine, and workers that never outlive their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fermask._parallel import _double_all, ordered_map


def _square_or_fail(xs: list[int]) -> list[int]:
    return [x * x if x != 13 else -1 for x in xs]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("chunksize", [1, 3, 64])
def test_results_come_back_in_input_order(workers: int, chunksize: int) -> None:
    items = list(range(50))
    assert list(ordered_map(_square_or_fail, iter(items), workers=workers, chunksize=chunksize)) == _square_or_fail(items)


def test_any_executor_gives_the_same_results() -> None:
    items = list(range(40))
    with ThreadPoolExecutor(3) as ex:
        got = list(ordered_map(_square_or_fail, items, executor=ex, chunksize=4))
    assert got == list(ordered_map(_square_or_fail, items, workers=1))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="chunksize must be at least 1, got 0"):
        list(ordered_map(_square_or_fail, [1], chunksize=0))
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        list(ordered_map(_square_or_fail, [1], workers=0))


_PARENT = """
import os, sys, time
if sys.argv[1] == "forkserver":  # the pool uses forkserver once TensorFlow is loaded; a stand-in module is enough
    sys.modules.setdefault("tensorflow", type(sys)("tensorflow"))
from fermask._parallel import process_pool
pool = process_pool(2)
pids = sorted({f.result() for f in [pool.submit(os.getpid) for _ in range(8)]})
print(" ".join(map(str, pids)), flush=True)
pool.submit(time.sleep, 600)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_exit_when_the_parent_is_killed(method: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _PARENT, method], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert pids and proc.pid not in pids and all(not _gone(p) for p in pids)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 20  # a bound for a loaded machine, not a speed requirement
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.2)
    left = [p for p in pids if not _gone(p)]
    for p in left:  # do not leave them behind even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived their killed parent"


def test_executor_capacity_follows_the_pool_and_a_dask_cluster() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fermask._parallel import executor_capacity

    with ThreadPoolExecutor(3) as ex:
        assert executor_capacity(ex) == 3

    class Client:  # what dask.distributed's ClientExecutor holds: nthreads() per worker address
        def nthreads(self) -> dict[str, int]:
            return {"tcp://a:1": 4, "tcp://b:1": 8}

    class ClientExecutor(ThreadPoolExecutor):
        _client = Client()

    with ClientExecutor(1) as ex:
        assert executor_capacity(ex) == 12


def test_before_fork_runs_only_before_a_pool_this_function_forks() -> None:
    from fermask._parallel import pool_forks

    calls: list[str] = []
    items = list(range(6))
    assert list(ordered_map(_double_all, items, workers=1, before_fork=lambda: calls.append("w1"))) == _double_all(items)
    with ThreadPoolExecutor(2) as ex:
        list(ordered_map(_double_all, items, executor=ex, before_fork=lambda: calls.append("ex")))
    got = list(ordered_map(_double_all, items, workers=2, chunksize=2, before_fork=lambda: calls.append("w2")))
    assert got == _double_all(items)
    assert calls == (["w2"] if pool_forks() else [])


_SCRIPT = """
import os, sys
sys.modules.setdefault("tensorflow", type(sys)("tensorflow"))  # loaded: workers come from forkserver, not fork
from fermask._parallel import _double_all, ordered_map

def pids(xs):
    return [os.getpid() for _ in xs]

{body}
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver")
@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_a_main_guard_works_here_with_a_warning(tmp_path: Path, guarded: bool) -> None:
    call = "print(list(ordered_map(_double_all, range(5), workers=2, chunksize=2)), os.getpid() in set(ordered_map(pids, range(4), workers=2, chunksize=1)))"
    body = f'if __name__ == "__main__":\n    {call}' if guarded else call
    script = tmp_path / "user_script.py"
    script.write_text(_SCRIPT.format(body=body))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if guarded:  # the workers do the work, no warning
        assert done.stdout.split() == ["[0,", "2,", "4,", "6,", "8]", "False"] and "RuntimeWarning" not in done.stderr
    else:  # this process does it, and says why
        assert done.stdout.split() == ["[0,", "2,", "4,", "6,", "8]", "True"]
        assert "RuntimeWarning: working in this process, not in 2 worker processes" in done.stderr
        assert f"{script}, line 9" in done.stderr and "__main__" in done.stderr
