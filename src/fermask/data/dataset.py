"""FERDataset: facial-expression images and labels held as compact arrays.

Examples:
    >>> from fermask.data import make_synthetic_fer
    >>> ds = make_synthetic_fer(70, seed=0, balanced=True)
    >>> ds.images.shape, ds.images.dtype
    ((70, 48, 48), dtype('uint8'))
    >>> train, dev = ds.split(fraction=0.1, seed=0)
    >>> len(train), len(dev)
    (63, 7)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import numpy as np

from .._choices import FERPLUS_MODES, NO_FACE_POLICIES, check_choice
from ..errors import DataFormatError
from ..labels import EMOTIONS
from ._sampling import binary_labels, cap_keep, dev_mask, missing_classes, subset_indices, usage_keys
from ._validate import check_concat, check_same_names, checked_fields, class_caps, class_index, index_array, pair_as_arrays
from ._masking import check_some_kept, masked_changes
from .ferplus import ferplus_labels, read_votes_for
from .store import read_dataset, write_dataset

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Executor

    from ..masker import Masker

__all__ = ["FERDataset", "TrainDevSplit", "save_dataset", "load_dataset"]

Index = int | slice | Sequence[int] | np.ndarray

# NO_FACE_POLICIES (what FERDataset.mask does with images where no face was masked) lives in
# fermask._choices; the import above keeps ``fermask.data.dataset.NO_FACE_POLICIES`` working.

#: The order of :meth:`FERDataset.split`'s ``by="usage"`` parts; other usages follow, sorted.
USAGE_ORDER = ("Training", "PublicTest", "PrivateTest", "Test")


class TrainDevSplit(NamedTuple):
    """What ``FERDataset.split(fraction=...)`` returns: a pair that unpacks as ``train, dev``.

    Attributes:
        train: The larger part, ``N - round(fraction * N)`` images.
        dev: The held-out part, ``round(fraction * N)`` images.
    """

    train: FERDataset
    dev: FERDataset


class FERDataset:
    """Face images with emotion labels, held as one uint8 array.

    Every operation returns a new dataset; the arrays of the original are
    never modified.

    Attributes:
        images: ``(N, H, W)`` gray or ``(N, H, W, 3)`` RGB, uint8.
        labels: ``(N,)`` int64 indices into :attr:`label_names`; ``-1`` means
            unlabelled (Kaggle's ``test.csv``).
        usage: ``(N,)`` str: ``"Training"``, ``"PublicTest"``,
            ``"PrivateTest"``, ``"Test"`` (a folder copy's test folder, which
            mixes both test sets) or ``""``.
        styles: ``(N,)`` str mask style per image (``""`` = not masked), or
            ``None`` for a dataset that was never masked.
        soft_labels: ``(N, K)`` float32 label distributions (FER+ votes), or ``None``.
        label_names: Class names; the seven FER2013 emotions by default.
        ids: ``(N,)`` int64 row numbers in the source file, used to join FER+ votes.
        source: A description of where the data came from.
        masking: The Masker configuration the images were masked with, or ``None``.
        notes: Counts recorded by operations (rows dropped, faces not found...).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | Sequence[int],
        *,
        usage: Iterable[str] | np.ndarray | None = None,
        styles: Iterable[str] | np.ndarray | None = None,
        soft_labels: np.ndarray | None = None,
        label_names: Sequence[str] = EMOTIONS,
        ids: np.ndarray | Sequence[int] | None = None,
        source: str = "",
        masking: dict[str, Any] | None = None,
        notes: dict[str, Any] | None = None,
    ) -> None:
        f = checked_fields(images, labels, usage, styles, soft_labels, label_names, ids)
        self.images: np.ndarray = f.images
        self.labels: np.ndarray = f.labels
        self.usage: np.ndarray = f.usage
        self.styles: np.ndarray | None = f.styles
        self.soft_labels: np.ndarray | None = f.soft_labels
        self.label_names: tuple[str, ...] = f.label_names
        self.ids: np.ndarray = f.ids
        self.source: str = source
        self.masking: dict[str, Any] | None = masking
        self.notes: dict[str, Any] = dict(notes or {})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray,
        labels: np.ndarray | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> FERDataset:
        """Build a dataset from arrays (``labels=None`` means unlabelled).

        Examples:
            >>> import numpy as np
            >>> ds = FERDataset.from_arrays(np.zeros((2, 48, 48), np.uint8), [3, 6])
            >>> ds.class_counts()["happy"]
            1
        """
        images = np.asarray(images)
        if labels is None:
            labels = np.full(images.shape[0] if images.ndim else 0, -1, dtype=np.int64)
        kwargs.setdefault("source", "arrays")
        return cls(images, labels, **kwargs)

    @classmethod
    def coerce(cls, data: Any, *, label_names: Sequence[str] | None = None, what: str = "data") -> FERDataset:
        """A dataset from a :class:`FERDataset` or an ``(images, labels)`` pair.

        This is the one place where fermask accepts arrays in place of a
        dataset (training, evaluation and distillation all call it). Images
        may be any numeric dtype with pixel values 0-255 (rounded and clipped
        to uint8); labels may be class indices or one-hot rows; lists work as
        arrays. Without ``label_names``, up to two classes are named
        ``("negative", "positive")`` and more are the FER2013 emotions.

        Args:
            data: A FERDataset, or a pair (tuple or list) of images and labels.
            label_names: The class names; a dataset must already have them.
            what: What the data is for (``"training"``), for messages.

        Raises:
            DataFormatError: Not a dataset or pair; images scaled to 0-1;
                labels out of range; names that differ from the dataset's.

        Examples:
            >>> import numpy as np
            >>> ds = FERDataset.coerce((np.full((2, 48, 48), 9.6), np.eye(7)[[3, 6]]))
            >>> ds.images[0, 0, 0], ds.labels.tolist(), ds.label_names[3]
            (np.uint8(10), [3, 6], 'happy')
        """
        if isinstance(data, FERDataset):
            check_same_names(label_names, data.label_names, what)
            return data
        x, y, names = pair_as_arrays(data, label_names, what)
        return cls.from_arrays(x, y, label_names=names, source=f"{what} arrays")

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], *, progress: bool = False) -> FERDataset:
        """Read ``fer2013.csv``, ``icml_face_data.csv``, or Kaggle's ``train.csv`` / ``test.csv``.

        The format is recognised from the header. Pixels go straight into one
        ``(N, 48, 48)`` uint8 array (the full FER2013 takes 83 MB).

        Args:
            path: The CSV file (``.csv`` or ``.csv.gz``).
            progress: Show a progress bar.

        Raises:
            DataFormatError: The file is not in one of these formats; the
                message names the line and the problem.

        Examples:
            >>> ds = FERDataset.from_csv("fer2013.csv")  # doctest: +SKIP
            >>> ds.class_counts()["happy"]  # doctest: +SKIP
            8989
        """
        from .readers import read_fer_csv

        data = read_fer_csv(path, progress=progress)
        return cls(data.images, data.labels, usage=data.usage, source=f"{data.kind} CSV '{path}'")

    @classmethod
    def from_folder(
        cls,
        path: str | os.PathLike[str],
        *,
        label_names: Sequence[str] | None = None,
        image_size: tuple[int, int] | None = None,
        color_mode: Literal["grayscale", "rgb"] | None = None,
        progress: bool = False,
    ) -> FERDataset:
        """Read a labelled image folder (``train/<label>/*.png``, ``test/<label>/*.png`` or ``<label>/*.png``).

        Folder names are mapped to labels *by name* (``happy`` is label 3 in
        FER2013 order), never by the alphabetical order of the folders. Any
        resolution and colour works: pass ``image_size`` when sizes differ.
        The Kaggle copy's ``test`` folder becomes usage ``"Test"``.

        Args:
            path: The root folder.
            label_names: Class names when the folders are not the seven
                emotions; labels follow this order.
            image_size: ``(height, width)`` to resize every image to.
            color_mode: ``"grayscale"`` or ``"rgb"``; default keeps gray when
                every image is gray.
            progress: Show a progress bar.

        Examples:
            >>> ds = FERDataset.from_folder("fer2013_images/")  # doctest: +SKIP
            >>> train, test = ds.split(by="usage").values()  # doctest: +SKIP
        """
        from .readers import read_image_folder

        names = None if label_names is None else tuple(str(x) for x in label_names)
        images, labels, usage, _ = read_image_folder(
            path, label_names=names, image_size=image_size, color_mode=color_mode, progress=progress
        )
        return cls(images, labels, usage=usage, label_names=names or EMOTIONS, source=f"image folder '{path}'")

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> FERDataset:
        """Load a dataset written by :meth:`save` (see :mod:`fermask.data.store`).

        Args:
            path: The folder (or its ``dataset.json``).
            verify: Check each shard's sha256 against ``dataset.json``.

        Raises:
            DataFormatError: Not a saved dataset, an unfinished save, or a shard
                that is missing or does not match its checksum.
        """
        arrays, info = read_dataset(path, verify=verify)
        try:
            return cls(
                arrays["images"],
                arrays["labels"],
                usage=arrays["usage"],
                ids=arrays["ids"],
                styles=arrays.get("styles"),
                soft_labels=arrays.get("soft_labels"),
                label_names=info["label_names"],
                source=info.get("source", ""),
                masking=info.get("masking"),
                notes=info.get("notes") or {},
            )
        except DataFormatError as exc:
            raise DataFormatError(f"'{path}' does not hold a usable dataset: {exc}; save the dataset again") from None

    @classmethod
    def concat(cls, datasets: Sequence[FERDataset]) -> FERDataset:
        """Join datasets with the same label names and image shape."""
        check_concat([d.label_names for d in datasets], [d.images.shape[1:] for d in datasets])
        first = datasets[0]
        styles = None
        if any(d.styles is not None for d in datasets):
            styles = np.concatenate([d.styles if d.styles is not None else np.full(len(d), "") for d in datasets])
        soft = None
        if all(d.soft_labels is not None for d in datasets):
            soft = np.concatenate([d.soft_labels for d in datasets])
        return cls(
            np.concatenate([d.images for d in datasets]),
            np.concatenate([d.labels for d in datasets]),
            usage=np.concatenate([d.usage for d in datasets]),
            styles=styles,
            soft_labels=soft,
            label_names=first.label_names,
            ids=np.concatenate([d.ids for d in datasets]),
            source=" + ".join(d.source for d in datasets),
            masking=first.masking,
        )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: Index) -> FERDataset:
        return self.select(index)

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        masked = "" if self.styles is None else f", masked={int((self.styles != '').sum())}"
        return f"FERDataset(n={len(self)}, image={shape}, classes={len(self.label_names)}{masked}, source={self.source!r})"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one image."""
        s = self.images.shape
        return (int(s[1]), int(s[2]), 1 if len(s) == 3 else int(s[3]))

    @property
    def color_mode(self) -> str:
        """``"grayscale"`` or ``"rgb"``."""
        return "grayscale" if self.images.ndim == 3 else "rgb"

    @property
    def num_classes(self) -> int:
        """Number of classes (``len(label_names)``)."""
        return len(self.label_names)

    def _replace(self, **changes: Any) -> FERDataset:
        fields: dict[str, Any] = {
            "images": self.images,
            "labels": self.labels,
            "usage": self.usage,
            "styles": self.styles,
            "soft_labels": self.soft_labels,
            "label_names": self.label_names,
            "ids": self.ids,
            "source": self.source,
            "masking": self.masking,
            "notes": self.notes,
        }
        fields.update(changes)
        images = fields.pop("images")
        labels = fields.pop("labels")
        return FERDataset(images, labels, **fields)

    def select(self, indices: Index) -> FERDataset:
        """The rows at ``indices`` (an int, a slice, integer indices or a bool mask)."""
        idx = index_array(indices, len(self))
        return self._replace(
            images=self.images[idx],
            labels=self.labels[idx],
            usage=self.usage[idx],
            styles=None if self.styles is None else self.styles[idx],
            soft_labels=None if self.soft_labels is None else self.soft_labels[idx],
            ids=self.ids[idx],
        )

    # ------------------------------------------------------------------ counts
    def _class_of(self, name: str | int) -> int:
        return class_index(name, self.label_names)

    def _counts(self) -> np.ndarray:
        lab = self.labels[self.labels >= 0]
        return np.bincount(lab, minlength=self.num_classes)

    def class_counts(self) -> dict[str, int]:
        """Images per class (unlabelled rows are not counted), in label order.

        Examples:
            >>> import numpy as np
            >>> FERDataset.from_arrays(np.zeros((3, 48, 48), np.uint8), [0, 3, 3]).class_counts()["happy"]
            2
        """
        return {name: int(c) for name, c in zip(self.label_names, self._counts())}

    def summary(self) -> str:
        """A text table of class counts per usage split."""
        splits = [u for u in ("Training", "PublicTest", "PrivateTest", "Test", "") if (self.usage == u).any()]
        head = ["class", *[u or "(none)" for u in splits], "total"]
        rows = []
        for k, name in enumerate(self.label_names):
            per = [int(((self.labels == k) & (self.usage == u)).sum()) for u in splits]
            rows.append([f"{k} {name}", *map(str, per), str(int((self.labels == k).sum()))])
        unl = int((self.labels < 0).sum())
        if unl:
            per = [int(((self.labels < 0) & (self.usage == u)).sum()) for u in splits]
            rows.append(["unlabelled", *map(str, per), str(unl)])
        rows.append(["total", *[str(int((self.usage == u).sum())) for u in splits], str(len(self))])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        return "\n".join([fmt(head), *(fmt(r) for r in rows)])

    def plot_class_counts(self, ax: Any = None, *, title: str | None = None) -> Any:
        """A bar plot of :meth:`class_counts` (needs the ``plot`` extra).

        Args:
            ax: A matplotlib Axes to draw on; a new figure is made if ``None``.
            title: The plot title (defaults to the dataset's source).

        Returns:
            The matplotlib Axes.
        """
        from ..plots import plot_class_counts

        shown = title if title is not None else (self.source or "class counts")
        return plot_class_counts(self.class_counts(), ax, title=shown)

    def class_weights(self) -> dict[int, float]:
        """Balanced class weights ``n / (k * count)`` for the classes present (for ``Model.fit``).

        Examples:
            >>> import numpy as np
            >>> FERDataset.from_arrays(np.zeros((3, 48, 48), np.uint8), [0, 3, 3]).class_weights()
            {0: 1.5, 3: 0.75}
        """
        counts = self._counts()
        present = np.flatnonzero(counts)
        if present.size == 0:
            raise DataFormatError("class_weights needs labelled images; this dataset has none")
        n = int(counts.sum())
        return {int(k): float(n / (len(present) * counts[k])) for k in present}

    # ------------------------------------------------------------------ sampling
    def _require_nonempty(self, what: str) -> None:
        if len(self) == 0:
            raise DataFormatError(f"{what}: the dataset is empty")

    def subset(self, n: int, *, stratify: bool = True, seed: int = 0) -> FERDataset:
        """A random subset of exactly ``n`` images, in their original order.

        Args:
            n: How many images to keep.
            stratify: Keep the class proportions (largest-remainder rounding).
            seed: Random seed; the same seed gives the same subset.

        Examples:
            >>> from fermask.data import make_synthetic_fer
            >>> len(make_synthetic_fer(100).subset(10))
            10
        """
        self._require_nonempty("subset")
        n = int(n)
        if not 0 < n <= len(self):
            raise DataFormatError(f"subset(n={n}): n must be between 1 and the dataset size {len(self)}")
        out = self.select(subset_indices(self.labels, n, stratify=stratify, seed=seed))
        out.source = f"{self.source} | subset({n}, stratify={stratify}, seed={seed})"
        return out

    def _check_classes(
        self, parts: Mapping[str, FERDataset], allow_empty: bool, fix: str = "Use a larger fraction or more data"
    ) -> None:
        if allow_empty:
            return
        for name, part in parts.items():
            if len(part) == 0:
                raise DataFormatError(f"the split leaves '{name}' with no images")
            missing = [self.label_names[k] for k in missing_classes(self._counts(), part._counts())]
            if missing:
                raise DataFormatError(
                    f"the split leaves class(es) {', '.join(missing)} empty in '{name}' "
                    f"(counts overall: {', '.join(f'{m} {self.class_counts()[m]}' for m in missing)}). "
                    f"{fix}, or pass allow_empty=True if this is intended"
                )

    @overload
    def split(
        self, by: Literal["usage"], *, seed: int = ..., stratify: bool = ..., allow_empty: bool = ...
    ) -> dict[str, FERDataset]: ...

    @overload
    def split(
        self, by: None = ..., *, fraction: float, seed: int = ..., stratify: bool = ..., allow_empty: bool = ...
    ) -> TrainDevSplit: ...

    def split(
        self,
        by: Literal["usage"] | None = None,
        *,
        fraction: float | None = None,
        seed: int = 0,
        stratify: bool = True,
        allow_empty: bool = False,
    ) -> dict[str, FERDataset] | TrainDevSplit:
        """Split by FER2013's Usage column, or into a seeded train/dev pair.

        The two forms take different arguments and return different types,
        each stated by an overload (so type checkers know which one a call gets):

        * ``split(by="usage")`` returns a dict ``{usage: dataset}`` (keys in
          the order Training, PublicTest, PrivateTest, Test, then any other
          usage, sorted);
        * ``split(fraction=0.1)`` returns a :class:`TrainDevSplit`, a pair
          ``(train, dev)`` with ``round(fraction * N)`` dev images, stratified
          by class unless ``stratify=False`` (the report's 90/10 split).

        Raises:
            DataFormatError: Both or neither of ``by`` and ``fraction``, no
                usage information, a bad fraction, or a split that leaves a
                class empty (unless ``allow_empty=True``).

        Examples:
            >>> from fermask.data import make_synthetic_fer
            >>> train, dev = make_synthetic_fer(140, balanced=True).split(fraction=0.1, seed=1)
            >>> len(dev), dev.class_counts()["happy"]
            (14, 2)
            >>> list(make_synthetic_fer(140, seed=0).split(by="usage", allow_empty=True))
            ['Training', 'PublicTest', 'PrivateTest']
        """
        self._require_nonempty("split")
        if (by is None) == (fraction is None):
            raise DataFormatError(
                f"split needs exactly one of by='usage' or fraction=..., got by={by!r}, fraction={fraction!r}"
            )
        if by is not None:
            if by != "usage":
                raise DataFormatError(f"split(by={by!r}): only by='usage' is supported")
            return self._split_by_usage(allow_empty)
        return self._split_fraction(float(fraction), seed, stratify, allow_empty)  # type: ignore[arg-type]

    def _split_by_usage(self, allow_empty: bool) -> dict[str, FERDataset]:
        if (self.usage == "").all():
            raise DataFormatError(
                f"split(by='usage'): this dataset ({self.source}) has no Usage column; "
                "use split(fraction=0.1) for a seeded train/dev split"
            )
        parts = {u: self.select(self.usage == u) for u in usage_keys(self.usage, USAGE_ORDER)}
        for u, part in parts.items():
            part.source = f"{self.source} | {u or '(no usage)'}"
        self._check_classes(parts, allow_empty, "The file's Usage column puts none there; use split(fraction=0.1) for a "
                            "seeded split of all the rows instead")
        return parts

    def _split_fraction(self, f: float, seed: int, stratify: bool, allow_empty: bool) -> TrainDevSplit:
        if not 0.0 < f < 1.0:
            raise DataFormatError(f"split(fraction={f}): the fraction must lie strictly between 0 and 1")
        n_dev = int(round(f * len(self)))
        if not 0 < n_dev < len(self):
            raise DataFormatError(
                f"split(fraction={f}) of {len(self)} images leaves one side empty; use a different fraction"
            )
        mask = dev_mask(self.labels, n_dev, stratify=stratify, seed=seed)
        train, dev = self.select(~mask), self.select(mask)
        train.source = f"{self.source} | train {1 - f:g} (seed={seed})"
        dev.source = f"{self.source} | dev {f:g} (seed={seed})"
        self._check_classes({"train": train, "dev": dev}, allow_empty)
        return TrainDevSplit(train, dev)

    def usage_split(self) -> tuple[FERDataset, FERDataset, FERDataset]:
        """``(Training, PublicTest, PrivateTest)`` of a dataset read from ``fer2013.csv``."""
        parts = self.split(by="usage")
        missing = [u for u in ("Training", "PublicTest", "PrivateTest") if u not in parts]
        if missing:
            raise DataFormatError(
                f"usage_split needs Training, PublicTest and PrivateTest rows; missing {', '.join(missing)} "
                f"(found {', '.join(parts)}). Use split(by='usage') instead"
            )
        return parts["Training"], parts["PublicTest"], parts["PrivateTest"]

    def cap(
        self,
        per_class: int | Mapping[str, int] | Mapping[int, int] | Mapping[str | int, int],
        *,
        seed: int = 0,
    ) -> FERDataset:
        """Keep at most a number of images per class, chosen at random (original order kept).

        Args:
            per_class: One cap for every class, or ``{class name: cap}``
                (the report's ``{"happy": 3500}``).
            seed: Random seed.

        Examples:
            >>> from fermask.data import make_synthetic_fer
            >>> make_synthetic_fer(140).cap({"happy": 5}).class_counts()["happy"]
            5
        """
        self._require_nonempty("cap")
        caps = class_caps(per_class, self.label_names)
        keep = cap_keep(self.labels, caps, seed)
        out = self.select(keep)
        out.source = f"{self.source} | cap({per_class})"
        return out

    def binary(self, positive: str | int | Sequence[str | int] = "happy", *, negative_name: str | None = None) -> FERDataset:
        """A two-class view: ``positive`` against everything else.

        Labels become 1 for the positive class(es) and 0 otherwise;
        :attr:`label_names` is ``("not happy", "happy")`` for ``positive="happy"``.

        Examples:
            >>> import numpy as np
            >>> ds = FERDataset.from_arrays(np.zeros((3, 48, 48), np.uint8), [0, 3, 6]).binary("happy")
            >>> ds.label_names, ds.labels.tolist()
            (('not happy', 'happy'), [0, 1, 0])
        """
        pos = [positive] if isinstance(positive, (str, int, np.integer)) else list(positive)
        ks = sorted({self._class_of(p) for p in pos})
        pos_name = " or ".join(self.label_names[k] for k in ks)
        names = (negative_name or f"not {pos_name}", pos_name)
        labels, soft = binary_labels(self.labels, self.soft_labels, ks)
        return self._replace(labels=labels, label_names=names, soft_labels=soft, source=f"{self.source} | binary({pos_name})")

    # ------------------------------------------------------------------ FER+
    def with_ferplus(self, path: str | os.PathLike[str], *, mode: Literal["majority", "soft"] = "majority") -> FERDataset:
        """Join FER+ votes (``fer2013new.csv``) and relabel with them.

        FER+ has one row per ``fer2013.csv`` row, in the same order; rows are
        matched through :attr:`ids`, so this works on a subset too. The seven
        FER2013 classes are kept; ``contempt``, ``unknown`` and ``NF`` votes
        count towards the total but no class.

        * ``"majority"``: the label is the category with more than half of
          the votes; rows without such a majority, or whose majority is
          contempt/unknown/NF, are dropped.
        * ``"soft"``: :attr:`soft_labels` holds the vote shares of the seven
          classes (renormalised); the label is their argmax; rows with no
          vote for any of the seven are dropped.

        Rows with a blank FER+ image name are dropped in both modes. The
        numbers dropped are recorded in :attr:`notes`.

        Raises:
            DataFormatError: The votes file does not line up with this dataset.
        """
        check_choice(mode, FERPLUS_MODES, "with_ferplus: mode")
        if self.label_names != EMOTIONS:
            raise DataFormatError("with_ferplus needs a dataset with the seven FER2013 classes (not a binary view)")
        votes, named = read_votes_for(path, self.ids, self.usage)
        joined = ferplus_labels(votes, named, mode)
        out = self._replace(
            labels=joined["labels"], soft_labels=joined["soft_labels"], source=f"{self.source} | FER+ {mode}"
        )
        out = out.select(joined["keep"])
        out.notes = {**self.notes, "ferplus": joined["notes"]}
        if len(out) == 0:
            raise DataFormatError(f"with_ferplus(mode={mode!r}) left no images")
        return out

    # ------------------------------------------------------------------ masking, storage, tf.data
    def mask(
        self,
        masker: Masker,
        *,
        on_no_face: Literal["drop", "keep"] = "drop",
        cache_dir: str | os.PathLike[str] | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
        progress: bool = True,
        shard_size: int = 2000,
        use_cache: bool = True,
    ) -> FERDataset:
        """Mask every face with a :class:`~fermask.Masker`, cached on disk and resumable.

        The result is stored under a key made of the images, the labels, the
        masker's full :meth:`~fermask.Masker.config` and the fermask version,
        in shards of ``shard_size`` images written as they finish: a second
        call loads in seconds, and an interrupted call resumes with the
        unfinished shards. A damaged shard or index in the cache is masked
        again, with a warning naming the file.

        Args:
            masker: The masker.
            on_no_face: What to do with images where no face/landmarks were
                found: ``"drop"`` them or ``"keep"`` them unmasked (style ``""``).
                Either way the count is in ``notes["masking"]``.
            cache_dir: Cache root; default ``fermask.faces.cache_dir() / "datasets"``.
            workers: Worker processes for masking (``None``: the masker's default).
                Ignored when ``executor`` is given.
            executor: A :class:`concurrent.futures.Executor` to mask on instead
                of local processes, e.g. a Dask ``client.get_executor()`` (see
                the scaling guide); not shut down here. The images are sent to
                the executor's workers, which need fermask and the landmark
                model at the path the masker found it. The result, and its
                cache entry, are the same whatever the executor.
            progress: Show a progress bar.
            shard_size: Images per cache shard.
            use_cache: ``False`` masks in memory without reading or writing the cache.

        Returns:
            The masked dataset; :attr:`styles` records each image's mask style.
            Gray images masked with ``keep_color=True`` make an RGB dataset.

        Examples:
            >>> masked = ds.mask(fermask.Masker("surgical"), workers=2)  # doctest: +SKIP
            >>> masked.notes["masking"]  # doctest: +SKIP
            {'masked': 3493, 'not_masked': 1507, 'dropped': 1507, ...}
            >>> from dask.distributed import Client  # doctest: +SKIP
            >>> with Client("tcp://10.0.0.5:8786") as client:  # doctest: +SKIP
            ...     masked = ds.mask(fermask.Masker("surgical"), executor=client.get_executor())
        """
        check_choice(on_no_face, NO_FACE_POLICIES, "on_no_face")
        from .cache import mask_arrays

        arrays, info = mask_arrays(
            self.images,
            self.labels,
            masker,
            source=self.source,
            cache_dir=cache_dir,
            workers=workers,
            executor=executor,
            progress=progress,
            shard_size=shard_size,
            use_cache=use_cache,
        )
        return self._with_masked(arrays, info, on_no_face)

    def _with_masked(self, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any], on_no_face: str) -> FERDataset:
        """This dataset with the images :func:`~fermask.data.cache.mask_arrays` returned, and their counts in notes."""
        out = self._replace(**masked_changes(arrays, info, on_no_face, notes=self.notes, source=self.source))
        if on_no_face == "drop":
            out = out.select(arrays["masked"])
            check_some_kept(len(out), len(self), out.notes["masking"])
        return out

    def save(self, path: str | os.PathLike[str], *, shard_size: int = 10000, overwrite: bool = False) -> Path:
        """Write the dataset to a folder of compressed ``.npz`` shards plus ``dataset.json``.

        See :mod:`fermask.data.store` for the format. Reload with :meth:`load`.

        Args:
            path: The target folder.
            shard_size: Images per shard.
            overwrite: Replace a dataset already saved there. Without it an
                existing non-empty folder is an error (inputs are never overwritten).

        Returns:
            The folder.
        """
        arrays = {
            "images": self.images,
            "labels": self.labels,
            "usage": self.usage,
            "ids": self.ids,
            "styles": self.styles,
            "soft_labels": self.soft_labels,
        }
        info = {
            "image_shape": list(self.image_shape),
            "label_names": list(self.label_names),
            "source": self.source,
            "masking": self.masking,
            "notes": self.notes,
        }
        return write_dataset(path, arrays, info, shard_size=shard_size, overwrite=overwrite)

    def to_tf_dataset(
        self,
        batch_size: int = 64,
        *,
        shuffle: bool = True,
        augment: bool | Mapping[str, float] = False,
        image_size: tuple[int, int] | int | None = None,
        color_mode: Literal["grayscale", "rgb"] | None = None,
        label_mode: Literal["int", "categorical", "soft", "binary"] | None = "int",
        seed: int = 0,
        repeat: bool = False,
        drop_remainder: bool = False,
        extra_targets: Mapping[str, Any] | None = None,
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(x, y)`` batches for Keras.

        ``x`` is float32 with pixel values 0-255 and shape
        ``(B, h, w, c)``; models scale inside themselves. See
        :func:`fermask.data.tfdata.make_tf_dataset` for the arguments.

        Examples:
            >>> from fermask.data import make_synthetic_fer
            >>> tfds = make_synthetic_fer(64).to_tf_dataset(32, image_size=64, color_mode="rgb")  # doctest: +SKIP
            >>> next(iter(tfds))[0].shape  # doctest: +SKIP
            TensorShape([32, 64, 64, 3])
        """
        from .tfdata import make_tf_dataset

        return make_tf_dataset(
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            augment=augment,
            image_size=image_size,
            color_mode=color_mode,
            label_mode=label_mode,
            seed=seed,
            repeat=repeat,
            drop_remainder=drop_remainder,
            extra_targets=extra_targets,
        )



def save_dataset(
    ds: FERDataset, path: str | os.PathLike[str], *, shard_size: int = 10000, overwrite: bool = False
) -> Path:
    """Deprecated: use ``ds.save(path, ...)`` instead (see :meth:`FERDataset.save`).

    Warns:
        DeprecationWarning: Always.
    """
    warnings.warn("fermask.data.save_dataset is deprecated; use FERDataset.save instead", DeprecationWarning, stacklevel=2)
    return ds.save(path, shard_size=shard_size, overwrite=overwrite)


def load_dataset(path: str | os.PathLike[str], *, verify: bool = True) -> FERDataset:
    """Deprecated: use :meth:`FERDataset.load` (a saved dataset) or :func:`fermask.data.load_fer_data` (any data path).

    Warns:
        DeprecationWarning: Always.
    """
    warnings.warn(
        "fermask.data.load_dataset is deprecated; use FERDataset.load instead (or fermask.data.load_fer_data, "
        "which reads any FER2013-format path)",
        DeprecationWarning,
        stacklevel=2,
    )
    return FERDataset.load(path, verify=verify)
