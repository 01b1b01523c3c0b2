"""Learning curves of a training run (moves to :mod:`fermask.plots` later)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import DataFormatError, missing_dependency

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_history"]


def plot_history(history: Mapping[str, Sequence[float]], *, title: str | None = None) -> Figure:
    """Learning curves: loss and accuracy per epoch, training and validation (needs the ``plot`` extra).

    Args:
        history: ``{metric: [value per epoch]}``, as in ``TrainResult.history``
            or a run's ``history.json``.
        title: A title over the figure.

    Returns:
        A matplotlib ``Figure`` (no window is opened).

    Examples:
        >>> fig = plot_history({"loss": [1.2, 0.9], "val_loss": [1.3, 1.1],
        ...                     "accuracy": [0.4, 0.6], "val_accuracy": [0.35, 0.5]})
        >>> len(fig.axes)
        2
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_dependency("matplotlib", "plot", "plotting learning curves") from None
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
        ax.set_ylabel(key)
        if key == "accuracy":
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig
