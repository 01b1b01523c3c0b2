"""A human-baseline session: a fixed set of masked faces and the answers given so far.

A session lives in one folder::

    session/
        manifest.json    the image set: labels, files, true labels, masking config
        images/0000.png  the masked faces, in the order they are shown
        answers.jsonl    one line per answer, appended and fsync'd as it is given

The image set is drawn once (seeded) when the folder is created and never
changes; opening the folder again resumes where the answers stop.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import iter_json_lines, open_append, write_json_atomic
from ..errors import DataFormatError, FermaskError

if TYPE_CHECKING:  # pragma: no cover
    from ..data import FERDataset

__all__ = ["Session", "Item", "load_data", "format_summary"]

MANIFEST = "manifest.json"
ANSWERS = "answers.jsonl"
IMAGES = "images"
SESSION_FORMAT = "fermask-human-baseline"


@dataclass(frozen=True)
class Item:
    """One image of a session.

    Attributes:
        id: Its position in the session (0-based), also its image's name.
        file: The image file, relative to the session folder.
        label: The true label's name.
        source_index: The row of the image in the source dataset.
        style: The mask style drawn on it.
    """

    id: int
    file: str
    label: str
    source_index: int
    style: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": self.id, "file": self.file, "label": self.label,
                "source_index": self.source_index, "style": self.style}


def load_data(path: str | os.PathLike[str]) -> FERDataset:
    """Deprecated: use :func:`fermask.data.load_fer_data` instead (the same reader, the same errors).

    Warns:
        DeprecationWarning: Always.
    """
    from ..data.load import load_fer_data

    warnings.warn(
        "fermask.human_baseline.load_data is deprecated; use fermask.data.load_fer_data instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return load_fer_data(path)


def _fsync_append(path: Path, line: str) -> bool:
    """Append one line to a file and fsync it, always starting on a fresh line.

    Args:
        path: The file (created when missing).
        line: The line, without its newline.

    Returns:
        ``True`` when the file ended in a cut-off line (power loss, full
        disk): a newline was written first, so the new line stays readable.
    """
    f, torn = open_append(path)
    with f:
        f.write((line + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return torn


def _answer_record(value: Any) -> dict[str, Any] | None:
    """A JSON value read from ``answers.jsonl`` as a record, or ``None`` when it is not one.

    A record has an integer ``id`` and a string ``answer``; its ``ms`` is
    ``None`` unless a finite number >= 0.
    """
    if not isinstance(value, dict) or type(value.get("id")) is not int or not isinstance(value.get("answer"), str):
        return None
    ms = value.get("ms")
    number = isinstance(ms, (int, float)) and not isinstance(ms, bool)
    value["ms"] = float(ms) if number and ms is not None and math.isfinite(ms) and ms >= 0 else None
    return value


class Session:
    """A session folder: its images, true labels and answers.

    Use :meth:`create` to draw a new image set (or reopen an existing
    folder), :meth:`open` to reopen one.

    Attributes:
        folder: The session folder.
        labels: The answer choices, in FER2013 order.
        items: The images, in showing order.
        answers: ``id -> answer label`` for every answered image.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        manifest = self.folder / MANIFEST
        if not manifest.is_file():
            raise FermaskError(
                f"'{self.folder}' is not a human-baseline session (no {MANIFEST}); create one with "
                "fermask human-baseline DATA --session FOLDER"
            )
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("format") != SESSION_FORMAT:
            raise DataFormatError(f"'{manifest}' is not a human-baseline manifest (format={data.get('format')!r})")
        self.manifest: dict[str, Any] = data
        self.labels: list[str] = list(data["labels"])
        self.items: list[Item] = [Item(**it) for it in data["items"]]
        self._by_id = {it.id: it for it in self.items}
        self._lock = threading.Lock()
        self.answers: dict[int, str] = {}
        self._times: dict[int, float] = {}
        self._warned_torn = False
        self._read_answers()
        self._model_probs: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------ creation
    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> Session:
        """Reopen an existing session folder."""
        return cls(folder)

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        data: str | os.PathLike[str] | FERDataset,
        n: int = 50,
        *,
        seed: int = 0,
        style: Any = "surgical",
        masker: Any = None,
        usage: str | None = None,
        already_masked: bool | None = None,
    ) -> Session:
        """Draw ``n`` images, mask them and write a new session; an existing session is reopened.

        Args:
            folder: The session folder.
            data: A :class:`~fermask.data.FERDataset` or a path
                :func:`fermask.data.load_fer_data` reads (FER2013 CSV, image
                folder or saved dataset).
            n: Number of images.
            seed: Seed of the draw (and of the masker's random choices).
            style: Mask style (name, list of names, ``"random"``), when no ``masker`` is given.
            masker: A ready :class:`~fermask.Masker`.
            usage: Draw only from this usage (``"PrivateTest"``, ...).
            already_masked: The images already wear masks (skip masking);
                default: true when the dataset records mask styles.

        Returns:
            The session. When ``folder`` already holds one, it is reopened
            unchanged (its image set is fixed) and a warning says so if the
            arguments differ.
        """
        out = Path(folder)
        if (out / MANIFEST).is_file():
            session = cls(out)
            m = session.manifest
            if m.get("n_requested") != int(n) or m.get("seed") != int(seed):
                warnings.warn(
                    f"'{out}' already holds a session (n={m.get('n_requested')}, seed={m.get('seed')}); "
                    "resuming it unchanged. Use another --session folder for a new image set.",
                    stacklevel=2,
                )
            return session
        if int(n) < 1:
            raise FermaskError(f"n must be at least 1, got {n}")
        from ..data import FERDataset, load_fer_data

        ds = data if isinstance(data, FERDataset) else load_fer_data(data)
        candidates = np.arange(len(ds))
        if usage:
            candidates = candidates[ds.usage == usage]
            if not len(candidates):
                found = sorted(set(ds.usage.tolist()))
                raise FermaskError(f"no image has usage {usage!r}; the data has {found}")
        candidates = candidates[ds.labels[candidates] >= 0]
        if not len(candidates):
            raise FermaskError("the data has no labelled images (a human baseline needs true labels)")
        if already_masked is None:
            already_masked = ds.styles is not None
        if not already_masked and masker is None:
            from ..masker import Masker

            masker = Masker(style=style, seed=seed)
        rng = np.random.default_rng(seed)
        order = rng.permutation(candidates)
        (out / IMAGES).mkdir(parents=True, exist_ok=True)
        from PIL import Image

        items: list[Item] = []
        skipped = 0
        for idx in order:
            if len(items) >= n:
                break
            img = ds.images[int(idx)]
            item_style = str(ds.styles[int(idx)]) if ds.styles is not None else ""
            if not already_masked:
                res = masker(img, index=int(idx))
                if not res.masked or res.image is None:
                    skipped += 1
                    continue
                img, item_style = res.image, res.style or ""
            name = f"{IMAGES}/{len(items):04d}.png"
            Image.fromarray(img).save(out / name)
            items.append(Item(len(items), name, ds.label_names[int(ds.labels[idx])], int(idx), item_style))
        if not items:
            raise FermaskError("no image could be masked (no face found in any); try another data set")
        if len(items) < n:
            warnings.warn(f"only {len(items)} of the {n} requested images could be used", stacklevel=2)
        manifest = {
            "format": SESSION_FORMAT,
            "version": 1,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "source": ds.source,
            "n_requested": int(n),
            "seed": int(seed),
            "usage": usage,
            "skipped_no_face": skipped,
            "masking": None if masker is None else masker.config(),
            "labels": list(ds.label_names),
            "items": [it.to_dict() for it in items],
        }
        write_json_atomic(out / MANIFEST, manifest, indent=1, default=None)
        return cls(out)

    # ------------------------------------------------------------- answers
    def _read_answers(self) -> None:
        path = self.folder / ANSWERS
        for line in iter_json_lines(path):
            rec = _answer_record(line.value)
            if rec is None:
                warnings.warn(f"{path}:{line.lineno}: unreadable answer line skipped (cut short by a crash?)",
                              stacklevel=3)
                continue
            if line.how == "glued":
                warnings.warn(f"{path}:{line.lineno}: a cut-off answer line was skipped and the answer "
                              "glued after it kept", stacklevel=3)
            i, ans = rec["id"], rec["answer"]
            if i in self._by_id and ans in self.labels and i not in self.answers:
                self.answers[i] = ans
                self._times[i] = rec["ms"] or 0.0

    @property
    def total(self) -> int:
        """Number of images in the session."""
        return len(self.items)

    def next_item(self) -> Item | None:
        """The first image not answered yet, or ``None`` when all are."""
        with self._lock:
            for it in self.items:
                if it.id not in self.answers:
                    return it
        return None

    def item(self, item_id: int) -> Item:
        """The image with this id."""
        try:
            return self._by_id[int(item_id)]
        except (KeyError, ValueError, TypeError):
            raise FermaskError(f"no image with id {item_id!r} in this session (ids 0-{self.total - 1})") from None

    def answer(self, item_id: int, label: str, ms: float | None = None) -> bool:
        """Record an answer, saved to disk before returning.

        Args:
            item_id: The image's id.
            label: The chosen emotion (one of :attr:`labels`).
            ms: Time the person took, in milliseconds (a finite number >= 0), or ``None``.

        Returns:
            ``True`` if recorded, ``False`` if this image was already answered
            (the first answer counts).

        Raises:
            FermaskError: Unknown id or label, or an ``ms`` that is not a
                finite number >= 0. Nothing is saved then.
        """
        it = self.item(item_id)
        if label not in self.labels:
            raise FermaskError(f"unknown answer {label!r}; expected one of {', '.join(self.labels)}")
        if ms is not None:
            try:
                valid = math.isfinite(float(ms)) and float(ms) >= 0
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise FermaskError(f"ms must be a finite number of milliseconds >= 0 or None; got {ms!r}")
            ms = float(ms)
        with self._lock:
            if it.id in self.answers:
                return False
            rec = {"id": it.id, "answer": label, "time": time.time(), "ms": ms}
            if _fsync_append(self.folder / ANSWERS, json.dumps(rec)) and not self._warned_torn:
                self._warned_torn = True
                warnings.warn(f"{self.folder / ANSWERS} ended in a cut-off line (a crash or a full disk?); "
                              "the new answer starts on a fresh line", stacklevel=2)
            self.answers[it.id] = label
            self._times[it.id] = float(ms or 0.0)
        return True

    # ---------------------------------------------------------------- scores
    def image_paths(self) -> list[Path]:
        """The image files, in showing order."""
        return [self.folder / it.file for it in self.items]

    def model_probs(self, predictor: Any) -> np.ndarray:
        """A model's probabilities on every session image (computed once per predictor).

        The images are scored as face crops (no detection), with the model's
        labels mapped to the session's by name.
        """
        key = str(id(predictor))
        if key not in self._model_probs:
            missing = [lab for lab in self.labels if lab not in predictor.labels]
            if missing:
                raise FermaskError(
                    f"the model's labels {predictor.labels} lack {missing}; a side-by-side score needs a "
                    f"model with the session's labels {self.labels}"
                )
            probs = predictor.predict_crops([str(p) for p in self.image_paths()])
            cols = [predictor.labels.index(lab) for lab in self.labels]
            self._model_probs[key] = probs[:, cols]
        return self._model_probs[key]

    def summary(self, predictor: Any = None, model_name: str | None = None) -> dict[str, Any]:
        """Human accuracy and confusion matrix, and a model's on the same images.

        Args:
            predictor: A :class:`~fermask.Predictor` to score side by side.
            model_name: How to call the model in the summary.

        Returns:
            A JSON-ready dict: ``total``, ``answered``, ``correct``,
            ``accuracy`` (``None`` before the first answer), ``labels``,
            ``confusion`` (rows: true label, columns: answer), ``per_class``,
            ``mean_ms`` and ``model`` (``None`` without a predictor).
        """
        k = len(self.labels)
        with self._lock:
            answers = dict(self.answers)
            times = [self._times[i] for i in answers if self._times.get(i)]
        ids = [it.id for it in self.items if it.id in answers]
        truth = np.array([self.labels.index(self._by_id[i].label) for i in ids], dtype=int)
        given = np.array([self.labels.index(answers[i]) for i in ids], dtype=int)
        out: dict[str, Any] = {
            "total": self.total,
            "answered": len(ids),
            "labels": list(self.labels),
        }
        out.update(_scores(truth, given, k, self.labels))
        out["mean_ms"] = round(float(np.mean(times)), 1) if times else None
        out["model"] = None
        if predictor is not None:
            probs = self.model_probs(predictor)
            pred_all = probs.argmax(axis=1)
            truth_all = np.array([self.labels.index(it.label) for it in self.items], dtype=int)
            pos = {it.id: j for j, it in enumerate(self.items)}
            pred_ans = np.array([pred_all[pos[i]] for i in ids], dtype=int)
            m: dict[str, Any] = {"name": model_name or "model"}
            m.update(_scores(truth, pred_ans, k, self.labels))
            m["accuracy_all"] = round(float((pred_all == truth_all).mean()), 4)
            m["agreement_with_human"] = round(float((pred_ans == given).mean()), 4) if len(ids) else None
            out["model"] = m
        return out


def _scores(truth: np.ndarray, given: np.ndarray, k: int, labels: list[str]) -> dict[str, Any]:
    conf = np.zeros((k, k), dtype=int)
    np.add.at(conf, (truth, given), 1)
    correct = int(np.trace(conf))
    n = int(conf.sum())
    per_class = {}
    for i, lab in enumerate(labels):
        row = int(conf[i].sum())
        per_class[lab] = {"n": row, "correct": int(conf[i, i]),
                          "accuracy": round(conf[i, i] / row, 4) if row else None}
    return {
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else None,
        "confusion": conf.tolist(),
        "per_class": per_class,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a plain-text report (accuracies and confusion matrix)."""
    labels = summary["labels"]
    lines = [f"answered {summary['answered']} of {summary['total']} images"]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    model = summary.get("model")
    lines.append(f"human accuracy: {pct(summary['accuracy'])} ({summary['correct']}/{summary['answered']})")
    if model:
        lines.append(f"{model['name']} accuracy on the same images: {pct(model['accuracy'])} "
                     f"({model['correct']}/{summary['answered']}); on all {summary['total']}: "
                     f"{pct(model['accuracy_all'])}; agrees with the human on {pct(model['agreement_with_human'])}")
    w = max(len(x) for x in labels) + 1
    lines.append("")
    lines.append("human confusion matrix (rows: true label, columns: answer)")
    lines.append(" " * w + " ".join(f"{x[:5]:>5}" for x in labels))
    for lab, row in zip(labels, summary["confusion"]):
        lines.append(f"{lab:<{w}}" + " ".join(f"{v:>5}" for v in row))
    return "\n".join(lines)
