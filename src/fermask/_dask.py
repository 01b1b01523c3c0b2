"""Connecting to a Dask cluster: an Executor on it, with one-line errors.

``Masker.mask_many``, ``FERDataset.mask`` and ``mask_folder`` take any
:class:`concurrent.futures.Executor`; a Dask ``Client``'s
``get_executor()`` is one. This module is what ``fermask mask --dask``
uses: it connects with a timeout, turns a missing ``distributed`` package, a
malformed address or an unreachable scheduler into a
:class:`~fermask.errors.FermaskError` that says what to do, and closes the
client at the end. ``distributed`` is imported only when a cluster is used.

Examples:
    >>> with dask_executor("tcp://10.0.0.5:8786") as ex:  # doctest: +SKIP
    ...     results = list(masker.mask_many(images, executor=ex))
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from .errors import FermaskError, missing_dependency

__all__ = ["dask_executor", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for the scheduler before giving up."""


@contextmanager
def dask_executor(address: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Executor]:
    """An Executor that runs on the Dask cluster whose scheduler is at ``address``.

    The client is closed when the ``with`` block ends, however it ends (its
    unfinished tasks are then released by the scheduler).

    Args:
        address: The scheduler's address, e.g. ``"tcp://10.0.0.5:8786"``.
        timeout: Seconds to wait for the scheduler.

    Yields:
        ``client.get_executor()`` of a client connected to ``address``.

    Raises:
        MissingDependencyError: ``distributed`` is not installed (the
            ``fermask[dask]`` extra installs it).
        FermaskError: ``address`` is not an address, or no scheduler answered
            there within ``timeout`` seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise missing_dependency("distributed", "dask", "masking on a Dask cluster (--dask)") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except ValueError as exc:
        raise FermaskError(
            f"{address!r} is not a Dask scheduler address ({exc}); expected one like tcp://10.0.0.5:8786"
        ) from None
    except (OSError, asyncio.TimeoutError) as exc:
        raise FermaskError(
            f"could not reach the Dask scheduler at {address!r} within {timeout:g} s ({exc}); "
            "check the address, that the scheduler is running and that its port is open from here"
        ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()
