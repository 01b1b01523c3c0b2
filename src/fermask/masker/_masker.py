"""The Masker: puts masks on the faces in images, one image or many."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import closing
from functools import partial
from typing import Any, Union

import numpy as np

from .._version import __version__
from .._image import ImageInput, load_image, to_gray, to_rgb
from .._numbers import check_seed
from .._parallel import ordered_map
from .._choices import check_choice
from ..errors import FermaskError, InvalidValueError
from ..faces import DEFAULT_MIN_SCORE, Detector, Face, FaceAnalyzer, Policy
from ..masks import PATTERNS, Appearance, FaceGeometry, MaskStyle, StyleLike, get_mask, list_masks, parse_color
from ..masks.render import COLORS, ColorSpec, paint
from ._result import MaskResult, failed_result, source_name
from ._stages import mask_staged

StyleChoice = Union[StyleLike, Sequence[StyleLike]]


def warm_quietly(masker: Any) -> None:
    """Load the masker's models now, if it can (what :func:`~fermask._parallel.ordered_map` calls before forking).

    Does nothing when ``masker`` has no ``warm``; a model that fails to load is
    reported image by image by the workers, as without warming.
    """
    warm = getattr(masker, "warm", None)
    if callable(warm):
        try:
            warm()
        except Exception:
            pass


class Masker:
    """Puts masks on faces.

    Args:
        style: A style name, a :class:`~fermask.masks.MaskStyle`, a list of
            them (one is picked per image), or ``"random"`` (any registered style).
        color: ``None`` (the style's colour), a name, ``#rrggbb``, ``(r, g, b)``,
            or ``"random"`` (one per image from :data:`fermask.masks.COLORS`).
        pattern: ``None`` (the style's default), ``"none"``, a pattern name from
            :data:`fermask.masks.PATTERNS`, or ``"random"``.
        pattern_color: The pattern's second colour (default: a tint of ``color``).
        strength: Opacity of the mask, from 0 (invisible) to 1 (opaque).
        keep_color: On a gray image, keep the mask in colour and return a
            3-channel image (as the report did); ``False`` keeps the output gray.
        seed: Seed of the random choices; image ``i`` of a batch always gets
            the same choices for the same seed, whatever the number of workers;
            a whole number from 0 to 2**32 - 1.
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"``; see
            :class:`~fermask.faces.FaceAnalyzer`. ``"auto"`` treats small
            images (FER2013 crops) as one face when no face is detected.
        detector: ``"hybrid"`` (default: dlib's HOG and BlazeFace combined),
            ``"hog"``, ``"blazeface"``, ``"cnn"`` or ``"auto"`` (see
            :class:`~fermask.faces.FaceAnalyzer`). Masks are placed from the
            68 landmarks whichever detector found the face.
        upsample: Detector upsampling; ``None`` chooses by image size.
        min_score: Detections scoring below this are ignored
            (:data:`fermask.faces.DEFAULT_MIN_SCORE`).
        landmarks_path: Path of the 68-point landmark model.

    The face-finder options (``face_policy`` to ``landmarks_path``) are
    defined and checked by :class:`~fermask.faces.FaceOptions`.

    Examples:
        >>> import numpy as np
        >>> masker = Masker("n95", keep_color=True)
        >>> masker.config()["styles"][0]["name"]
        'n95'
    """

    def __init__(
        self,
        style: StyleChoice = "surgical",
        *,
        color: ColorSpec = None,
        pattern: str | None = None,
        pattern_color: ColorSpec = None,
        strength: float = 1.0,
        keep_color: bool = False,
        seed: int = 0,
        face_policy: Policy = "auto",
        detector: Detector = "hybrid",
        upsample: int | None = None,
        min_score: float = DEFAULT_MIN_SCORE,
        landmarks_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(style, (list, tuple)) and len(style) == 1:
            style = style[0]  # a one-item list means that style ("random" included)
        if isinstance(style, str) and style.strip().lower() == "random":
            names = list_masks()
            self.styles: list[MaskStyle] = [get_mask(n) for n in names]
            self.random_style = True
        elif isinstance(style, (list, tuple)):
            if not style:
                raise FermaskError("style was given as an empty list; name at least one mask style")
            self.styles = [get_mask(s) for s in style]
            self.random_style = len(self.styles) > 1
        else:
            self.styles = [get_mask(style)]  # type: ignore[arg-type]
            self.random_style = False
        self.random_color = isinstance(color, str) and color.strip().lower() == "random"
        self.color = None if self.random_color else parse_color(color)
        pat = None if pattern is None else str(pattern).strip().lower()
        check_choice(pat, (*PATTERNS, "none", "random"), "pattern", allow_none=True)
        self.pattern = pat
        self.pattern_color = parse_color(pattern_color)
        strength = float(strength)
        if not 0.0 <= strength <= 1.0:
            raise InvalidValueError(f"strength is the mask's opacity and must lie between 0 and 1, got {strength}")
        self.strength = strength
        self.keep_color = bool(keep_color)
        self.seed = check_seed(seed)
        self.analyzer = FaceAnalyzer(
            face_policy=face_policy,
            detector=detector,
            upsample=upsample,
            min_score=min_score,
            landmarks_path=landmarks_path,
        )
        self._calls = 0

    # -- configuration ----------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The full configuration, JSON-ready: what a cache key or a bundle records."""
        return {
            "styles": [s.config() for s in self.styles],
            "random_style": self.random_style,
            "color": "random" if self.random_color else (list(self.color) if self.color else None),
            "pattern": self.pattern,
            "pattern_color": list(self.pattern_color) if self.pattern_color else None,
            "strength": self.strength,
            "keep_color": self.keep_color,
            "seed": self.seed,
            "faces": self.analyzer.config(),
            "fermask": __version__,
        }

    def __repr__(self) -> str:
        names = [s.name for s in self.styles]
        return f"Masker(style={names if len(names) > 1 else names[0]!r}, seed={self.seed})"

    def warm(self) -> None:
        """Load the dlib models now; see :meth:`fermask.faces.FaceAnalyzer.warm`."""
        self.analyzer.warm()

    # -- one image --------------------------------------------------------
    def _choose(self, rng: np.random.Generator) -> tuple[MaskStyle, Appearance]:
        style = self.styles[int(rng.integers(len(self.styles)))] if self.random_style else self.styles[0]
        if self.random_color:
            names = sorted(COLORS)
            color = COLORS[names[int(rng.integers(len(names)))]]
        else:
            color = self.color or tuple(style.default_color)  # type: ignore[assignment]
        if self.pattern == "random":
            options: list[str | None] = [None, *PATTERNS]
            pattern = options[int(rng.integers(len(options)))]
        elif self.pattern == "none":
            pattern = None
        elif self.pattern is None:
            pattern = style.default_pattern
        else:
            pattern = self.pattern
        return style, Appearance(color, pattern, self.pattern_color)

    def mask_faces(
        self,
        image: np.ndarray,
        faces: Sequence[Face],
        index: int | None = None,
        *,
        gray: np.ndarray | None = None,
    ) -> MaskResult:
        """Mask the given faces of an already-loaded image (no detection).

        Args:
            image: ``uint8`` image as :func:`fermask.load_image` returns it.
            faces: Faces with landmarks (e.g. from :class:`~fermask.faces.FaceAnalyzer`).
            index: Position in a batch; seeds the random choices.
            gray: ``to_gray(image)``, when the caller has it already (saves
                converting the image again).

        Returns:
            The result; ``masked`` is ``False`` when ``faces`` is empty.
        """
        if index is None:
            index = self._calls
            self._calls += 1
        if not faces:
            return MaskResult(image=image, index=index, reason="no face found")
        rng = np.random.default_rng([self.seed, index])
        style, look = self._choose(rng)
        gray_in = image.ndim == 2
        luma = image if gray_in else (gray if gray is not None else to_gray(image))
        if gray_in and self.keep_color:
            work = to_rgb(image).astype(np.float32)
        else:
            work = image.astype(np.float32)
        for face in faces:
            g = FaceGeometry(face.landmarks)
            paint(work, luma, style.shape(g), g, look, self.strength, rng)
        out = np.clip(work + 0.5, 0, 255).astype(np.uint8)
        n = len(faces)
        return MaskResult(
            image=out,
            faces=list(faces),
            styles=[style.name] * n,
            colors=[look.color] * n,
            patterns=[look.pattern] * n,
            masked=True,
            index=index,
        )

    def __call__(self, image: ImageInput, *, index: int | None = None) -> MaskResult:
        """Find the faces in ``image`` and mask them.

        Args:
            image: A path, bytes, PIL image or array (gray, RGB or RGBA; uint8 or float).
            index: Position in a batch; seeds the random choices (default: a
                per-Masker call counter).

        Returns:
            A :class:`MaskResult`; when no face is found, ``masked`` is ``False``
            and ``image`` is the unchanged input.

        Raises:
            ImageError: The input is not a readable image.
        """
        arr = load_image(image)
        gray = to_gray(arr)
        faces = self.analyzer.find_in_gray(gray, arr)
        result = self.mask_faces(arr, faces, index, gray=gray)
        result.source = source_name(image)
        return result

    # -- many images ------------------------------------------------------
    def _safe_one(self, index: int, image: ImageInput) -> MaskResult:
        try:
            return self(image, index=index)
        except Exception as exc:
            return failed_result(index, image, exc)

    def _mask_staged(self, items: Iterable[tuple[int, ImageInput]]) -> Iterator[MaskResult]:
        """What ``self(image, index=i)`` gives for each item, a group at a time (``_stages.mask_staged``)."""
        return mask_staged(items, self.analyzer.find_in_gray, self.mask_faces)

    def _run_chunk(self, chunk: list[tuple[int, ImageInput]]) -> list[MaskResult]:
        if type(self).__call__ is not Masker.__call__:  # a subclass masks in its own way: image by image
            return [self._safe_one(i, img) for i, img in chunk]
        return list(self._mask_staged(chunk))

    def mask_batch(self, images: Sequence[ImageInput], *, indices: Sequence[int] | None = None) -> list[MaskResult]:
        """Mask a list of images in this process and return every result.

        The same results as ``list(mask_many(images, workers=1))``, made
        faster: the images are read, searched for faces and masked a group at
        a time (up to 32 images or 64 MiB of pixels), each stage for the whole
        group in turn. What pool workers run on their chunks.

        Args:
            images: Paths, arrays, PIL images or bytes.
            indices: Each image's index (seeds its random choices); by default
                ``0, 1, 2, ...``.

        Returns:
            One :class:`MaskResult` per image, in order; an image that could
            not be read or masked has ``image=None`` and the error in ``reason``.

        Raises:
            ValueError: ``indices`` is not as long as ``images``.

        Examples:
            >>> import numpy as np
            >>> results = Masker("surgical").mask_batch([np.zeros((48, 48), np.uint8)] * 2)  # doctest: +SKIP
            >>> [r.index for r in results]  # doctest: +SKIP
            [0, 1]
        """
        images = list(images)
        numbers = list(range(len(images))) if indices is None else [int(i) for i in indices]
        if len(numbers) != len(images):
            raise InvalidValueError(f"indices must give one index per image: {len(numbers)} indices for {len(images)} images")
        return self._run_chunk(list(zip(numbers, images)))

    def mask_many(
        self,
        images: Iterable[ImageInput],
        *,
        workers: int | None = None,
        executor: Executor | None = None,
        chunksize: int = 64,
        progress: bool = True,
        start: int = 0,
        total: int | None = None,
        indices: Iterable[int] | None = None,
    ) -> Iterator[MaskResult]:
        """Mask many images, in parallel, yielding results in input order.

        Unreadable inputs do not stop the batch: their result has ``image=None``
        and the error in ``reason``.

        Args:
            images: Paths, arrays, PIL images or bytes; any iterable (read lazily).
            workers: Worker processes; ``None`` uses every CPU, ``1`` works in
                this process. Ignored when ``executor`` is given.
            executor: Any :class:`concurrent.futures.Executor` (a Dask or Ray
                executor scales this out over a cluster). Not shut down here.
            chunksize: Images sent to a worker at a time.
            progress: Show a progress bar.
            start: Index of the first image (seeds the random choices); the
                others follow it.
            total: Number of images, for the progress bar when ``images`` has no length.
            indices: Each image's own index (seeds its random choices), in
                place of ``start``: a resumed batch passes the positions of
                the images left, so they get the choices an uninterrupted
                batch gives them. Must be as long as ``images``.

        Yields:
            One :class:`MaskResult` per input, in order.
        """
        from tqdm.auto import tqdm

        if total is None and hasattr(images, "__len__"):
            total = len(images)  # type: ignore[arg-type]
        numbered = enumerate(images, start) if indices is None else zip(indices, images, strict=True)
        results = ordered_map(self._run_chunk, numbered, workers=workers, executor=executor, chunksize=chunksize,
                              before_fork=partial(warm_quietly, self))
        bar = tqdm(total=total, disable=not progress, unit="img", desc="masking", smoothing=0.1)
        with closing(results), bar:  # closing: an abandoned loop shuts the pool down at once
            for res in results:
                bar.update(1)
                yield res

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)
