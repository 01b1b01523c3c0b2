"""Figures, drawn with matplotlib (the optional ``plot`` extra).

Every function builds a :class:`matplotlib.figure.Figure` without pyplot, so
nothing opens a window and no global state is touched; save it with
:func:`save_figure` (PNG by default) or show it in a notebook by leaving it as
a cell's value. matplotlib is imported inside the functions: without it,
calling one raises :class:`~fermask.MissingDependencyError` saying
``pip install 'fermask[plot]'``.

This is one flat module of functions, and every figure fermask draws is one
of them; each takes plain data (counts, arrays, mappings and the result
records of :mod:`fermask.results`) and returns a figure. It imports nothing
of fermask above the foundation, not even for type hints, so every layer may
call it: the classes that draw themselves (``VideoPrediction.plot``,
``FERDataset.plot_class_counts``, ``EvaluationReport.save``) hand these
functions their numbers.

Examples:
    >>> from fermask import plots
    >>> fig = plots.plot_scores({"happy": 0.7, "sad": 0.2, "neutral": 0.1})
    >>> float(fig.axes[0].get_xlim()[1])
    1.0
"""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .errors import DataFormatError, InvalidTypeError, InvalidValueError, missing_dependency
from .results import Prediction

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_scores", "plot_face_scores", "annotate_image", "plot_emotion_timeline", "plot_video_prediction",
    "plot_confusion_matrix", "plot_history", "plot_class_counts", "save_figure",
]

# One colour per FER2013 emotion, so every figure uses the same ones.
EMOTION_COLORS: dict[str, str] = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#ff7f0e",
    "sad": "#1f77b4",
    "surprise": "#e377c2",
    "neutral": "#7f7f7f",
}


class _ConfusionSource(Protocol):
    """What :func:`plot_confusion_matrix` reads from a report object (an ``EvaluationReport`` has it)."""

    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def confusion(self) -> Sequence[Sequence[int]]: ...
    @property
    def accuracy(self) -> float: ...
    @property
    def n(self) -> int: ...


class _Timeline(Protocol):
    """What the deprecated :func:`plot_video_prediction` reads (a ``VideoPrediction`` has it)."""

    @property
    def source(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...
    def timeline(self, face: int = 0) -> tuple[np.ndarray, np.ndarray]: ...


class _Counted(Protocol):
    """What the deprecated dataset form of :func:`plot_class_counts` reads (a ``FERDataset`` has it)."""

    def class_counts(self) -> Mapping[str, int]: ...


def _mpl() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_dependency("matplotlib", "plot", "plotting") from None
    return matplotlib, Figure


def _color(label: str, i: int) -> str:
    return EMOTION_COLORS.get(label, f"C{i % 10}")


def printable(text: str) -> str:
    """``text`` as a figure can draw it: bytes of a file name that are not UTF-8 become U+FFFD, never an error.

    Examples:
        >>> printable(os.fsdecode(b"bad\\xff.png"))
        'bad\ufffd.png'
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")  # a file name's undecodable bytes, as Python decoded them
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")  # any other lone surrogate
    return raw.decode("utf-8", "replace")


def _scores_of(item: Prediction | Mapping[str, float]) -> dict[str, float]:
    scores = item.scores if isinstance(item, Prediction) else item
    if not isinstance(scores, Mapping):
        raise InvalidTypeError(f"expected a Prediction or a mapping label -> score, got {type(item).__name__}")
    return {str(k): float(v) for k, v in scores.items()}


def plot_scores(
    scores: Prediction | Mapping[str, float],
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A horizontal bar chart of one face's emotion scores (the report's Figure 3).

    Args:
        scores: A :class:`~fermask.Prediction` or a mapping label -> score.
        ax: Draw into these axes instead of a new figure.
        title: Axes title; defaults to the top label and its score.

    Returns:
        The figure holding the chart.

    Examples:
        >>> fig = plot_scores({"happy": 0.9, "sad": 0.1}, title="face 0")
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
        ['happy', 'sad']
    """
    _, Figure = _mpl()
    s = _scores_of(scores)
    if ax is None:
        fig = Figure(figsize=(4.5, 0.35 * len(s) + 1.0), layout="constrained")
        ax = fig.add_subplot()
    labels = list(s)
    values = [s[k] for k in labels]
    y = np.arange(len(labels))
    ax.barh(y, values, color=[_color(k, i) for i, k in enumerate(labels)])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("probability")
    for yi, v in enumerate(values):
        ax.text(min(v + 0.02, 0.85), yi, f"{v:.2f}", va="center", fontsize=8)
    if title is None and labels:
        top = max(labels, key=s.__getitem__)
        title = f"{top} ({s[top]:.0%})"
    if title:
        ax.set_title(printable(title))
    return ax.figure  # type: ignore[return-value]


def plot_face_scores(
    predictions: Sequence[Prediction],
    image: Any = None,
    *,
    max_faces: int = 12,
) -> Figure:
    """One row per face: its crop (when ``image`` is given) beside its score bars.

    Args:
        predictions: The predictions of one image.
        image: The image they come from (anything :func:`fermask.load_image` takes).
        max_faces: Draw at most this many faces.

    Returns:
        The figure; a single "no face found" panel when ``predictions`` is empty.
    """
    _, Figure = _mpl()
    preds = list(predictions)[:max_faces]
    arr = None
    if image is not None:
        from ._image import load_image

        arr = load_image(image)
    rows = max(1, len(preds))
    cols = 2 if arr is not None else 1
    fig = Figure(figsize=(3.0 * cols + 1.5, 2.6 * rows), layout="constrained")
    if not preds:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no face found", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
        return fig
    from ._image import crop_face

    axes = fig.subplots(rows, cols, squeeze=False, width_ratios=[1, 2] if cols == 2 else None)
    for row, p in zip(axes, preds):
        if arr is not None:
            crop = crop_face(arr, p.box)
            row[0].imshow(crop, cmap="gray" if crop.ndim == 2 else None, vmin=0, vmax=255)
            row[0].set_title(f"face {p.index}")
            row[0].set_axis_off()
        plot_scores(p, ax=row[-1], title=f"face {p.index}: {p.label} ({p.score:.0%}){p.mask_note}")
    return fig


def annotate_image(
    image: Any,
    predictions: Sequence[Prediction],
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """The photo with a box and the top label over every face.

    A new figure keeps the photo's size, its longer side within 600 to 1600
    pixels (at 100 dpi); fonts and lines grow with it, and each label sits
    above its face (else below, else inside the box's top edge), clear of
    the other labels: crowded labels go on two lines or shrink.

    Args:
        image: The photo (anything :func:`fermask.load_image` takes).
        predictions: Its predictions.
        ax: Draw into these axes instead of a new figure.
        title: Axes title.

    Returns:
        The figure.
    """
    _mpl()
    from . import _annotate
    from ._image import load_image

    arr = load_image(image)
    if ax is None:  # the photo's own size, 600 to 1600 px on its longer side
        ax = _annotate.new_axes(arr.shape[:2], bool(title))
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255)
    colors = [_color(p.label, p.index) for p in predictions]
    fontsize = _annotate.draw_faces(ax, arr.shape[:2], predictions, colors)
    if not predictions:
        ax.text(0.5, 0.02, "no face found", transform=ax.transAxes, ha="center", va="bottom", fontsize=fontsize,
                color="white", bbox={"facecolor": "black", "alpha": 0.6})
    ax.set_axis_off()
    if title:
        ax.set_title(printable(title), fontsize=fontsize + 1)
    return ax.figure  # type: ignore[return-value]


def plot_emotion_timeline(
    times: Sequence[float] | np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    title: str | None = None,
    xlabel: str = "time (s)",
) -> Figure:
    """Each emotion's score over time (a video), one line per label.

    Args:
        times: ``n`` time points (seconds or frame numbers).
        scores: ``(n, len(labels))`` scores; rows of NaN (no face) leave gaps.
        labels: Label names.
        title: Figure title.
        xlabel: Label of the time axis.

    Returns:
        The figure.

    Examples:
        >>> import numpy as np
        >>> fig = plot_emotion_timeline([0, 1], np.array([[0.2, 0.8], [0.6, 0.4]]), ["sad", "happy"])
        >>> len(fig.axes[0].lines)
        2
    """
    _, Figure = _mpl()
    t = np.asarray(times, dtype=float)
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape != (len(t), len(labels)):
        raise InvalidValueError(
            f"scores must have shape (len(times), len(labels)) = ({len(t)}, {len(labels)}), got {s.shape}"
        )
    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.add_subplot()
    for i, lab in enumerate(labels):
        ax.plot(t, s[:, i], label=lab, color=_color(lab, i), linewidth=1.5,
                marker="." if len(t) < 60 else None)
    ax.set_ylim(-0.03, 1.05)  # headroom: a score of 1 or 0 is not drawn on the frame
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    if title:
        ax.set_title(printable(title))
    return fig


def plot_video_prediction(result: _Timeline, face: int = 0) -> Figure:
    """Deprecated: use ``VideoPrediction.plot(face)`` (or :func:`plot_emotion_timeline`) instead.

    Kept so that old calls still draw the same figure; it warns.

    Args:
        result: What :func:`fermask.video.predict_video` returned.
        face: Which face of each frame (0: the leftmost).

    Returns:
        The figure, titled with the video's file name and the face number.
    """
    warnings.warn(
        "fermask.plots.plot_video_prediction(result, face) is deprecated; use result.plot(face) "
        "(VideoPrediction.plot) or plots.plot_emotion_timeline(times, scores, labels) instead",
        DeprecationWarning,
        stacklevel=2,
    )
    times, scores = result.timeline(face)
    return plot_emotion_timeline(times, scores, list(result.labels), title=f"{Path(result.source).name}: face {face}")


def plot_confusion_matrix(
    report: Mapping[str, Any] | _ConfusionSource, *, normalize: bool = True, title: str | None = None,
    name: str | None = None,
) -> Figure:
    """Draw a report's confusion matrix.

    Args:
        report: A mapping with ``labels``, ``confusion`` (counts,
            ``confusion[true][predicted]``), ``accuracy`` and ``n``, such as
            ``EvaluationReport.to_dict()``, or any object with these four
            attributes (an :class:`~fermask.evaluation.EvaluationReport`).
        normalize: Colour and print each row as shares of its true class
            (counts are printed when ``False``).
        title: The figure title (default: ``name``, if given, above the accuracy).
        name: What was evaluated (a run, a bundle), for the default title.

    Returns:
        A matplotlib ``Figure`` (no window is opened); save it with
        ``fig.savefig("confusion.png")``.

    Examples:
        >>> fig = plot_confusion_matrix({"labels": ["a", "b"], "confusion": [[3, 1], [0, 4]],
        ...                              "accuracy": 0.875, "n": 8})
        >>> fig.axes[0].get_title()
        'accuracy 87.5% (n=8)'
    """
    _, Figure = _mpl()
    def get(key: str) -> Any:
        return report[key] if isinstance(report, Mapping) else getattr(report, key)

    labels = [str(x) for x in get("labels")]
    cm = np.asarray(get("confusion"), dtype=np.float64)
    k = len(labels)
    rows = cm.sum(axis=1, keepdims=True)
    shown = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalize else cm
    side = 1.2 + 0.75 * k
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(float(cm.max()), 1.0))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class" if normalize else "images")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = float(shown.max()) if shown.size else 1.0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > 0.6 * top else "black")
    if title is None:
        title = (f"{name}\n" if name else "") + f"accuracy {100 * float(get('accuracy')):.1f}% (n={int(get('n')):,})"
    ax.set_title(printable(title), fontsize=10)
    return fig


def plot_history(history: Mapping[str, Sequence[float]], *, title: str | None = None) -> Figure:
    """Learning curves: loss and accuracy per epoch, training and validation.

    Args:
        history: ``{metric: [value per epoch]}``, as in ``TrainResult.history``
            or a run's ``history.json``.
        title: A title over the figure; each of its lines is wrapped to the
            figure's width.

    Returns:
        A matplotlib ``Figure`` (no window is opened); the epoch axis has
        whole-number ticks.

    Raises:
        DataFormatError: The history has neither ``loss`` nor ``accuracy``.

    Examples:
        >>> fig = plot_history({"loss": [1.2, 0.9], "val_loss": [1.3, 1.1],
        ...                     "accuracy": [0.4, 0.6], "val_accuracy": [0.35, 0.5]})
        >>> len(fig.axes)
        2
    """
    _, Figure = _mpl()
    from matplotlib.ticker import MaxNLocator

    panels = [k for k in ("loss", "accuracy") if k in history]
    if not panels:
        raise DataFormatError(f"the history has neither 'loss' nor 'accuracy' (keys: {sorted(history)})")
    fig = Figure(figsize=(5 * len(panels), 3.5), layout="constrained")
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for prefix, name, style in (("", "training", "-"), ("val_", "validation", "--")):
            vals = history.get(prefix + key)
            if vals:
                ax.plot(range(1, len(vals) + 1), vals, style, marker="o" if len(vals) < 30 else None, label=name)
        ax.set_xlabel("epoch")
        epochs = max(len(history.get(k) or ()) for k in (key, "val_" + key))
        if epochs <= 12:  # each epoch its tick: 1, 2, never 1.2, and a single epoch at 1, not 0.95 to 1.05
            ax.set_xticks(range(1, epochs + 1))
            ax.set_xlim(0.5, epochs + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        if key == "accuracy":
            ax.set_ylim(-0.03, 1.05)  # a score of 0 or 1 drawn inside the axes, not on their border
        ax.grid(alpha=0.3)
        ax.legend()
    if title:  # each line wrapped to the figure's width (about 10 characters an inch at 11 pt)
        lines = printable(title).splitlines()
        fig.suptitle("\n".join(textwrap.fill(x, int(10 * fig.get_figwidth())) for x in lines), fontsize=11)
    return fig


def plot_class_counts(
    counts: Mapping[str, int] | _Counted, ax: Axes | None = None, *, title: str | None = None
) -> Axes:
    """A bar plot of the number of images per class.

    Unlike the other functions here it draws with pyplot when no ``ax`` is
    given (a new pyplot figure, shown by notebooks), as
    ``FERDataset.plot_class_counts`` always has.

    Args:
        counts: ``{label: number of images}``, in the order to draw, such as
            :meth:`FERDataset.class_counts() <fermask.FERDataset.class_counts>`.
            Passing the dataset itself is deprecated (it warns); use
            ``ds.plot_class_counts()`` or pass ``ds.class_counts()``.
        ax: A matplotlib Axes to draw on; a new figure is made if ``None``.
        title: The plot title (default: ``"class counts"``; the dataset's
            source when a dataset is passed).

    Returns:
        The matplotlib Axes.

    Examples:
        >>> ax = plot_class_counts({"happy": 3, "sad": 1})  # doctest: +SKIP
        >>> [t.get_text() for t in ax.get_xticklabels()]  # doctest: +SKIP
        ['happy', 'sad']
    """
    if not isinstance(counts, Mapping):
        warnings.warn(
            "plots.plot_class_counts(dataset) is deprecated; use dataset.plot_class_counts() "
            "or plots.plot_class_counts(dataset.class_counts()) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        if title is None:
            title = getattr(counts, "source", None) or "class counts"
        counts = counts.class_counts()
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise missing_dependency("matplotlib", "plot", "plotting class counts") from None
    if ax is None:  # constrained: the rotated labels and a wrapped title stay inside the figure
        _, ax = plt.subplots(figsize=(1 + 0.9 * len(counts), 3.5), layout="constrained")
    bars = ax.bar([str(k) for k in counts], [int(v) for v in counts.values()], color="#4C72B0")
    ax.bar_label(bars, fmt="%d", fontsize=8)
    ax.set_ylabel("images")
    width = ax.get_window_extent().width / ax.figure.dpi  # inches the title may use
    text = printable(title if title is not None else "class counts")
    ax.set_title(textwrap.fill(text, max(20, int(width * 13))), fontsize=9)
    ax.tick_params(axis="x", rotation=30)
    return ax


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Save a figure (format from the suffix, PNG when there is none); parent folders are created.

    Args:
        fig: The figure.
        path: Target file.
        dpi: Resolution.

    Returns:
        The path written.
    """
    p = Path(path)
    if not p.suffix:
        p = p.with_suffix(".png")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return p
