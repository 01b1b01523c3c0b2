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
import logging
from collections.abc import Iterator
from concurrent.futures import CancelledError, Executor
from contextlib import contextmanager
from urllib.parse import urlsplit

from .errors import FermaskError, InvalidValueError, missing_dependency

__all__ = ["dask_executor", "check_address", "SchedulerLostError", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for the scheduler before giving up."""


class SchedulerLostError(FermaskError, ConnectionError):
    """The Dask scheduler went away during a run (killed, restarted, its machine lost)."""


_EXAMPLE = "expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (the address `dask scheduler` prints)"


def check_address(address: object) -> str:
    """``address`` if it names a Dask scheduler fermask can reach: ``tcp://HOST:PORT`` (or an in-process ``inproc://``).

    Checked before connecting, so a malformed address is one line, with no
    half-made client left to fail later. ``tls://`` and ``ucx://`` need a
    security configuration or the UCX package that ``fermask mask --dask``
    does not set up. A bare ``HOST:PORT`` is taken as ``tcp://HOST:PORT``, as
    Dask does.

    Raises:
        InvalidValueError: The address has another scheme, no host, or no port from 1 to 65535.

    Examples:
        >>> check_address("tcp://10.0.0.5:8786"), check_address("10.0.0.5:8786")
        ('tcp://10.0.0.5:8786', 'tcp://10.0.0.5:8786')
        >>> check_address("http://10.0.0.5:8787")
        Traceback (most recent call last):
        ...
        fermask.errors.InvalidValueError: 'http://10.0.0.5:8787' is not a Dask scheduler address: its scheme is http://; expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (the address `dask scheduler` prints)
    """
    text = address.strip() if isinstance(address, str) else ""
    if text.startswith("inproc://") and len(text) > len("inproc://"):
        return text
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    why = ""
    if scheme != "tcp":
        why = f"its scheme is {scheme}://" + (
            " (TLS and UCX need a security configuration or the ucx package, which fermask does not set up)"
            if scheme in ("tls", "ucx") else "")
    else:
        parts = urlsplit(f"tcp://{rest}")
        try:
            port = parts.port
        except ValueError:  # not a number, or above 65535
            port = None
        if not parts.hostname:
            why = "it names no host"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            why = "it has more than HOST:PORT"
        elif port is None or not 1 <= port <= 65535:
            why = "it names no port from 1 to 65535"
        else:
            return f"tcp://{parts.netloc}"
    raise InvalidValueError(f"{address!r} is not a Dask scheduler address: {why}; {_EXAMPLE}")


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
        InvalidValueError: ``address`` is not an address (:func:`check_address`).
        FermaskError: No scheduler answered there within ``timeout`` seconds.
        SchedulerLostError: The scheduler went away during the ``with`` block
            (what was finished before is kept; a rerun resumes).
    """
    address = check_address(address)
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
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)  # a lost scheduler is said in one line below, not in the client's tracebacks
    try:
        yield client.get_executor()
    except (CancelledError, OSError, asyncio.TimeoutError) as exc:
        if not isinstance(exc, CancelledError) and client.status == "running":
            raise
        raise SchedulerLostError(
            f"lost the Dask scheduler at {address} during the run ({type(exc).__name__}; client {client.status}); "
            "the finished outputs are kept and recorded: start the scheduler again and rerun the same command "
            "to resume"
        ) from None
    finally:
        _close(client)
        log.setLevel(level)


def _close(client: object) -> None:
    """Close the client without waiting long for a scheduler that is gone, and without a later traceback."""
    try:
        client.close(timeout=2)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - the scheduler is gone; nothing is left to release
        pass
