"""The report of an evaluation: :class:`EvaluationReport` and :func:`report_from_predictions`.

A report holds the numbers (accuracy, top-2, per-class scores, macro-F1, the
confusion matrix, accuracy per mask style) and writes them as JSON, Markdown
and a confusion-matrix figure; the conventions are in :mod:`fermask.evaluation`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..bundle import to_probabilities
from ..errors import DataFormatError, FermaskError
from ..plots import plot_confusion_matrix as _draw_confusion
from .metrics import confusion_matrix, per_class_scores, top_k_accuracy

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["EvaluationReport", "report_from_predictions", "plot_confusion_matrix", "UNMASKED"]

UNMASKED = "(unmasked)"
"""How images with no mask style (``styles == ""``) are named in per-style results."""


# --------------------------------------------------------------------------- the report
@dataclass
class EvaluationReport:
    """The result of an evaluation.

    Attributes:
        labels: Class names, in the model's output order.
        n: Number of images evaluated.
        accuracy: Share of correct top-1 predictions.
        top2_accuracy: Share with the true class among the two best scores;
            ``None`` for two classes (where it is always 1).
        per_class: One dict per class: ``label``, ``precision``, ``recall``,
            ``f1``, ``support``.
        macro_f1: Mean F1 over the classes present (see the module notes).
        confusion: Counts, ``confusion[true][predicted]``.
        per_style: ``{style: {"n", "accuracy", "heldout"}}``; empty when the
            data was never masked.
        heldout_styles: Styles marked as unseen in training.
        heldout_accuracy: Pooled accuracy over the held-out styles (``None``
            when none were evaluated).
        seen_accuracy: Pooled accuracy over the other masked styles (``None``
            when there are none).
        model: A description of the model evaluated.
        data: A description of the data.
        notes: Anything worth knowing when reading the numbers.
    """

    labels: list[str]
    n: int
    accuracy: float
    top2_accuracy: float | None
    per_class: list[dict[str, Any]]
    macro_f1: float
    confusion: list[list[int]]
    per_style: dict[str, dict[str, Any]] = field(default_factory=dict)
    heldout_styles: list[str] = field(default_factory=list)
    heldout_accuracy: float | None = None
    seen_accuracy: float | None = None
    model: str = ""
    data: str = ""
    notes: list[str] = field(default_factory=list)

    # -- serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "labels": list(self.labels),
            "n": self.n,
            "accuracy": self.accuracy,
            "top2_accuracy": self.top2_accuracy,
            "macro_f1": self.macro_f1,
            "per_class": [dict(d) for d in self.per_class],
            "confusion": [list(r) for r in self.confusion],
            "per_style": {k: dict(v) for k, v in self.per_style.items()},
            "heldout_styles": list(self.heldout_styles),
            "heldout_accuracy": self.heldout_accuracy,
            "seen_accuracy": self.seen_accuracy,
            "model": self.model,
            "data": self.data,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        """Rebuild a report from :meth:`to_dict`'s output."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataFormatError(f"not an evaluation report: unknown field(s) {unknown}")
        return cls(**data)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> EvaluationReport:
        """Read a report from a JSON file (or JSON text)."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def to_markdown(self, *, title: str = "Evaluation") -> str:
        """The report as Markdown: summary, per-class table, confusion matrix, per-style table."""
        pct = _pct
        lines = [f"## {title}", ""]
        if self.model:
            lines.append(f"- Model: {self.model}")
        if self.data:
            lines.append(f"- Data: {self.data}")
        lines += [
            f"- Images: {self.n:,}",
            f"- Accuracy: {pct(self.accuracy)}",
            f"- Top-2 accuracy: {pct(self.top2_accuracy) if self.top2_accuracy is not None else 'n/a (two classes)'}",
            f"- Macro-F1: {self.macro_f1:.3f}",
        ]
        if self.heldout_styles:
            lines.append(f"- Held-out styles ({', '.join(self.heldout_styles)}): {pct(self.heldout_accuracy)}")
            lines.append(f"- Styles seen in training: {pct(self.seen_accuracy)}")
        lines += ["", "### Per class", "", "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for d in self.per_class:
            lines.append(f"| {d['label']} | {d['precision']:.3f} | {d['recall']:.3f} | {d['f1']:.3f} | {d['support']} |")
        lines += ["", "### Confusion matrix (rows: true, columns: predicted)", ""]
        lines.append("| true \\ predicted | " + " | ".join(self.labels) + " |")
        lines.append("|---|" + "---:|" * len(self.labels))
        for lab, row in zip(self.labels, self.confusion):
            lines.append(f"| **{lab}** | " + " | ".join(str(v) for v in row) + " |")
        if self.per_style:
            lines += ["", "### Accuracy per mask style", "", "| style | images | accuracy | seen in training |", "|---|---:|---:|---|"]
            for style, d in self.per_style.items():
                seen = "no (held out)" if d.get("heldout") else "yes"
                lines.append(f"| {style} | {d['n']} | {pct(d['accuracy'])} | {seen} |")
        if self.notes:
            lines += ["", "### Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def save(
        self, folder: str | os.PathLike[str], *, stem: str = "evaluation", plot: bool = True, name: str | None = None
    ) -> dict[str, Path]:
        """Write ``<stem>.json``, ``<stem>.md`` and, with matplotlib installed, ``<stem>_confusion.png``.

        Args:
            folder: Where to write (created if missing).
            stem: The files' common name.
            plot: Draw the confusion matrix too.
            name: What was evaluated (a run, a model), put before the accuracy in
                the plot's title so that the plots of several runs tell themselves apart.

        Returns:
            The paths written, by kind (``"json"``, ``"markdown"``, ``"plot"``).
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md"}
        self.to_json(paths["json"])
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        if plot:
            try:
                fig = _draw_confusion(self, name=name)
            except FermaskError:  # matplotlib missing: the JSON and Markdown hold the numbers
                pass
            else:
                paths["plot"] = out / f"{stem}_confusion.png"
                fig.savefig(paths["plot"], dpi=100)
        return paths

    def __repr__(self) -> str:
        return (
            f"EvaluationReport(n={self.n}, accuracy={self.accuracy:.4f}, macro_f1={self.macro_f1:.4f}, "
            f"classes={len(self.labels)}, styles={len(self.per_style)})"
        )


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}%"


def report_from_predictions(
    y_true: Sequence[int] | np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    styles: Sequence[str] | np.ndarray | None = None,
    heldout_styles: Sequence[str] | None = None,
    model: str = "",
    data: str = "",
) -> EvaluationReport:
    """Build an :class:`EvaluationReport` from true labels and predicted scores.

    Args:
        y_true: True class indices, ``(N,)``.
        scores: ``(N, K)`` scores or probabilities (the argmax is the
            prediction), or ``(N,)``/``(N, 1)`` sigmoid probabilities of
            ``labels[1]`` for two classes.
        labels: The ``K`` class names.
        styles: Mask style per image (``""`` = unmasked), for per-style accuracy.
        heldout_styles: Styles not seen in training.
        model: A description of the model, kept in the report.
        data: A description of the data, kept in the report.

    Returns:
        The report.

    Examples:
        >>> import numpy as np
        >>> r = report_from_predictions([1, 0, 1], np.array([0.9, 0.2, 0.4]), ["no", "yes"],
        ...                             styles=["n95", "n95", "cloth"], heldout_styles=["cloth"])
        >>> r.accuracy, r.per_style["cloth"]["accuracy"], r.heldout_accuracy
        (0.6666666666666666, 0.0, 0.0)
    """
    names = [str(x) for x in labels]
    k = len(names)
    if k < 2:
        raise DataFormatError(f"labels needs at least two classes, got {names}")
    t = np.asarray(y_true, dtype=np.int64).ravel()
    probs = to_probabilities(scores, k)
    if probs.shape[0] != t.size:
        raise DataFormatError(f"{t.size} labels but {probs.shape[0]} rows of scores")
    if t.size == 0:
        raise DataFormatError("nothing to evaluate: no images")
    if (t < 0).any():
        raise DataFormatError(f"{int((t < 0).sum())} images have no label (-1); evaluate labelled images only")
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(t, pred, k)
    sc = per_class_scores(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    macro = float(sc["f1"][present].mean()) if present.any() else 0.0
    correct = pred == t
    per_class = [
        {
            "label": names[i],
            "precision": float(sc["precision"][i]),
            "recall": float(sc["recall"][i]),
            "f1": float(sc["f1"][i]),
            "support": int(sc["support"][i]),
        }
        for i in range(k)
    ]
    held = [str(s) for s in (heldout_styles or [])]
    per_style: dict[str, dict[str, Any]] = {}
    heldout_acc = seen_acc = None
    notes: list[str] = []
    if styles is not None:
        st = np.asarray(styles).astype(str)
        if st.shape != t.shape:
            raise DataFormatError(f"styles must have one entry per image ({t.size}), got shape {st.shape}")
        for s in sorted(set(st.tolist()), key=lambda v: (v == "", v)):
            sel = st == s
            per_style[s or UNMASKED] = {"n": int(sel.sum()), "accuracy": float(correct[sel].mean()), "heldout": s in held}
        masked = st != ""
        is_held = np.isin(st, held) & masked
        if is_held.any():
            heldout_acc = float(correct[is_held].mean())
        if (masked & ~is_held).any():
            seen_acc = float(correct[masked & ~is_held].mean())
        missing = [h for h in held if h not in set(st.tolist())]
        if missing:
            notes.append(f"held-out style(s) {', '.join(missing)} do not occur in the evaluated data")
    elif held:
        notes.append("heldout_styles was given but the data records no mask styles")
    return EvaluationReport(
        labels=names,
        n=int(t.size),
        accuracy=float(correct.mean()),
        top2_accuracy=top_k_accuracy(t, probs, 2) if k > 2 else None,
        per_class=per_class,
        macro_f1=macro,
        confusion=cm.tolist(),
        per_style=per_style,
        heldout_styles=held,
        heldout_accuracy=heldout_acc,
        seen_accuracy=seen_acc,
        model=model,
        data=data,
        notes=notes,
    )


# --------------------------------------------------------------------------- deprecated: the figure lives in plots
def plot_confusion_matrix(
    report: EvaluationReport | Mapping[str, Any], *, normalize: bool = True, title: str | None = None
) -> Figure:
    """Deprecated: use :func:`fermask.plots.plot_confusion_matrix` instead (it takes the same arguments).

    Kept so that old imports still work; it warns and draws the same figure.
    """
    warnings.warn(
        "fermask.evaluation.plot_confusion_matrix is deprecated; use fermask.plots.plot_confusion_matrix instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return _draw_confusion(report, normalize=normalize, title=title)
