"""Many images through one predictor: faces found in several images at once, their crops scored in few model calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._image import ImageInput
from .._parallel import ordered_map
from ..errors import FermaskError
from ._pending import Pending, describe

__all__ = ["find_and_crop_each", "score_in_batches"]


def find_and_crop_each(
    find_and_crop: Callable[[ImageInput], Pending], images: Iterable[ImageInput], on_error: str, threads: int
) -> Iterator[Pending]:
    """``find_and_crop`` for every image, in input order; ``threads`` images at once.

    With ``on_error="record"``, an image that fails with a :class:`~fermask.errors.FermaskError`
    gives a :class:`Pending` without faces whose ``error`` says why; with ``"raise"`` the error stops the run.
    """

    def run(chunk: list[ImageInput]) -> list[Pending]:
        out = []
        for image in chunk:
            try:
                out.append(find_and_crop(image))
            except FermaskError as exc:
                if on_error == "raise":
                    raise
                out.append(Pending([], [], [], describe(image), None, error=str(exc)))
        return out

    if threads == 1:
        for image in images:
            yield from run([image])
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="fermask-predict") as pool:
        yield from ordered_map(run, images, executor=pool, chunksize=1)


def score_in_batches(
    pendings: Iterable[Pending], scores: Callable[[np.ndarray, int], np.ndarray], n_labels: int, batch_size: int
) -> Iterator[tuple[Pending, np.ndarray]]:
    """Each image with its faces' probabilities, in input order, bounded memory.

    Crops are gathered until ``batch_size`` faces wait (or the images end);
    then ``scores(crops, batch_size)`` runs once for all of them.
    """
    queue: list[Pending] = []
    n_faces = 0

    def flush() -> Iterator[tuple[Pending, np.ndarray]]:
        crops = [c for p in queue for c in p.crops]
        probs = scores(np.stack(crops), batch_size) if crops else np.zeros((0, n_labels))
        start = 0
        for p in queue:
            yield p, probs[start : start + len(p.crops)]
            start += len(p.crops)
        queue.clear()

    for pending in pendings:
        queue.append(pending)
        n_faces += len(pending.crops)
        if n_faces >= batch_size:
            yield from flush()
            n_faces = 0
    if queue:
        yield from flush()
