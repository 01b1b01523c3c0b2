"""Ordered parallel map: over this process, a process pool, or any Executor.

One function, :func:`ordered_map`, runs ``fn`` over chunks of items and
yields the results in input order, keeping a bounded number of chunks in
flight so that memory stays flat on inputs of any length. It runs in this
process (``workers=1``), in a process pool it owns, or on any
:class:`concurrent.futures.Executor` the caller passes (a Dask
``client.get_executor()`` scales it out over a cluster). Masker, datasets and
folder runs all go through it.

Examples:
    >>> list(ordered_map(_double_all, range(5), workers=1, chunksize=2))
    [0, 2, 4, 6, 8]
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from types import FrameType
from typing import Literal, TypeVar

from .errors import InvalidValueError

__all__ = ["check_workers", "cpu_count", "process_pool", "pool_forks", "ordered_map", "executor_capacity", "bounded_groups"]

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None, what: str = "workers") -> int | None:
    """``workers`` as an ``int``, or ``None``: the one check of a number of workers, with one wording.

    Args:
        workers: How many workers; ``None`` lets the caller choose.
        what: The option's name, for the message (``"--workers"`` on the command line).

    Raises:
        InvalidValueError: ``workers`` is not a whole number of at least 1.

    Examples:
        >>> check_workers(2), check_workers(None)
        (2, None)
        >>> check_workers(0)
        Traceback (most recent call last):
        ...
        fermask.errors.InvalidValueError: workers must be at least 1, got 0; pass 1 to work in this process, or leave it unset
    """
    if workers is None:
        return None
    try:
        n = -1 if isinstance(workers, bool) else int(workers)
    except (TypeError, ValueError):
        n = -1
    if n < 1 or n != workers:
        raise InvalidValueError(
            f"{what} must be at least 1, got {workers!r}; pass 1 to work in this process, or leave it unset"
        )
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - exists, owned by someone else
        return True
    return True


def _watch_parent(parent: int, interval: float) -> None:
    while _alive(parent):
        time.sleep(interval)
    os._exit(1)  # the parent is gone (killed, crashed): nobody will read our results


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Worker initializer: end this worker when the process that made the pool dies.

    A pool's workers otherwise outlive a parent killed with ``SIGKILL`` (they
    wait for work that never comes). On Linux the kernel is asked to send
    ``SIGTERM`` when the worker's own parent dies; a daemon thread also
    watches the pool's owner itself, which under ``forkserver`` is not the
    worker's parent.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread suffices
            pass
    threading.Thread(target=_watch_parent, args=(parent, interval), daemon=True, name="fermask-parent-watch").start()


def _start_method() -> Literal["fork", "forkserver"] | None:
    if sys.platform.startswith("linux"):
        return "forkserver" if "tensorflow" in sys.modules else "fork"
    return None  # the platform's default


def pool_forks() -> bool:
    """Whether :func:`process_pool` would fork its workers from this process now.

    Forked workers share what this process has loaded (e.g. dlib's models)
    instead of loading their own copies.
    """
    return _start_method() == "fork"


def _is_main_guard(test: ast.expr) -> bool:
    text = ast.unparse(test)
    return "__name__" in text and "__main__" in text


def _unguarded_main_line() -> int | None:
    """The line of the main script, outside ``if __name__ == "__main__":``, that is running now; else ``None``.

    Workers that are not forked (``forkserver``, ``spawn``) import the main
    script again, and code at its top level outside that guard then runs again
    in them: it starts its own pool there and the pool breaks
    (``BrokenProcessPool``). ``None`` for a guarded line, ``python -m``
    packages, the interactive prompt and notebooks, whose code is not re-run.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if main is None or path is None or (spec is not None and str(spec.name).endswith("__main__")):
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # the script's top level is not on this thread's stack
        return None
    line = frame.f_lineno
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_guard(node.test) and node.lineno <= line <= (node.end_lineno or line):
            return None
    return line


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers exit when this process dies.

    ``fork`` is avoided once TensorFlow is loaded (it is not fork-safe).
    """
    method = _start_method()
    ctx = multiprocessing.get_context(method) if method else None
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_exit_with_parent, initargs=(os.getpid(),)
    )


def executor_capacity(executor: Executor) -> int:
    """How many chunks ``executor`` can work on at once, as far as it tells.

    A process or thread pool's ``max_workers``; a Dask executor's threads
    over all the cluster's workers, asked when called (a cluster that grows
    later is seen by the next batch); else this machine's CPUs.
    """
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        try:
            total = sum(int(n) for n in nthreads().values())
        except Exception:  # pragma: no cover - an unreachable scheduler fails on submit, with its own error
            total = 0
        if total > 0:
            return total
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return workers
    return cpu_count()


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bounded_groups(items: Iterable[T], size_of: Callable[[T], int], *, count: int, size: int) -> Iterator[list[T]]:
    """``items`` in groups of at most ``count``, a group ending once the ``size_of`` its items reaches ``size``.

    Examples:
        >>> list(bounded_groups([5, 1, 1, 9, 2], lambda x: x, count=3, size=6))
        [[5, 1], [1, 9], [2]]
    """
    group: list[T] = []
    total = 0
    for item in items:
        group.append(item)
        total += size_of(item)
        if len(group) >= count or total >= size:
            yield group
            group, total = [], 0
    if group:
        yield group


def ordered_map(
    fn: Callable[[list[T]], list[R]],
    items: Iterable[T],
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    chunksize: int = 64,
    before_fork: Callable[[], object] | None = None,
) -> Generator[R, None, None]:
    """Apply ``fn`` to chunks of ``items`` and yield its results in input order.

    Args:
        fn: Takes a list of items, returns one result per item. It must be
            picklable when it runs in other processes (a module-level function
            or a bound method of a picklable object).
        items: Any iterable; read lazily, a bounded window ahead.
        workers: Processes; ``None`` uses every CPU, ``1`` runs here without a
            pool. Ignored when ``executor`` is given. Runs here too, with a
            ``RuntimeWarning``, when workers would not be forked and would
            re-run the main script's unguarded top-level code.
        executor: Any Executor; not shut down here. Twice its capacity
            (:func:`executor_capacity`: a pool's workers, a Dask cluster's
            threads) in chunks are kept in flight.
        chunksize: Items sent to ``fn`` at a time.
        before_fork: Called here just before this function starts its own
            process pool, when that pool forks its workers from this process
            (:func:`pool_forks`): what it loads, e.g. models, the workers then
            share instead of each loading their own. Not called otherwise.

    Yields:
        ``fn``'s results, flattened, in the order of ``items``.

    Raises:
        InvalidValueError: ``workers`` (see :func:`check_workers`) or ``chunksize`` below 1.
    """
    if chunksize < 1:
        raise InvalidValueError(f"chunksize must be at least 1, got {chunksize}; it is the number of items sent at a time")
    if executor is None:
        workers = check_workers(workers)
    n_workers = cpu_count() if workers is None else int(workers)
    own = executor is None
    line = None if not own or n_workers == 1 or pool_forks() else _unguarded_main_line()
    if line is not None:
        script = sys.modules["__main__"].__file__
        why = "TensorFlow is loaded, so workers start fresh" if _start_method() == "forkserver" else (
            "workers on this platform start fresh")
        warnings.warn_explicit(
            f"working in this process, not in {n_workers} worker processes: {why} "
            f"and would run this script's top-level code again ({script}, line {line}). "
            'Put that code under `if __name__ == "__main__":` to use the workers, or pass workers=1.',
            RuntimeWarning,
            str(script),
            line,
        )
    if own and (n_workers == 1 or line is not None):
        for item in items:  # one at a time: results (and progress) as soon as each is done
            yield from fn([item])
        return
    if own and before_fork is not None and pool_forks():
        before_fork()
    pool = executor or process_pool(n_workers)
    window = 2 * (n_workers if own else max(2, executor_capacity(pool)))
    pending: deque[Future[list[R]]] = deque()
    try:
        for chunk in _chunks(items, chunksize):
            pending.append(pool.submit(fn, chunk))
            while len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def _double_all(xs: list[int]) -> list[int]:  # for the module's doctest
    return [2 * x for x in xs]
