"""The layout of an annotated photo: its figure's size, and face labels that stay legible and apart.

:func:`fermask.plots.annotate_image` draws with these. The figure keeps the
photo's own size within ``[MIN_SIDE, MAX_SIDE]`` pixels on its longer side
(at 100 dpi, :func:`fermask.plots.save_figure`'s default), so a group photo
is not squeezed into a thumbnail; fonts and line widths grow with it.

Each face's label goes above its box, else below it, else inside its top
edge, whichever first stays inside the photo and clear of the labels already
placed and of the other faces' boxes; a label that finds no such place is
tried on two lines, then at smaller sizes, then over the other faces' boxes,
and as a last resort at its smallest, shifted sideways or stacked further
from its face until it clears the other labels. Faces are labelled left to
right.

Only numbers here: text is measured with a callable, so the placement runs
(and is tested) without drawing.

Examples:
    >>> display_scale(800, 2400)
    0.6666666666666666
    >>> display_scale(48, 48)
    12.5
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .results import Prediction

__all__ = [
    "MIN_SIDE", "MAX_SIDE", "display_scale", "style", "label_texts", "Label", "place_labels", "text_measurer",
    "new_axes", "draw_faces",
]

MIN_SIDE = 600
"""Smallest longer side of an annotated photo, in pixels: small photos and crops are drawn larger."""
MAX_SIDE = 1600
"""Largest longer side of an annotated photo, in pixels: larger photos are drawn smaller."""

Box = tuple[float, float, float, float]
Measure = Callable[[str, float], tuple[float, float]]


def display_scale(height: int, width: int, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE) -> float:
    """Figure pixels per photo pixel: the photo's own size, its longer side kept within ``[min_side, max_side]``."""
    longer = max(height, width, 1)
    return min(max(longer, min_side), max_side) / longer


def style(longer_side_px: float) -> tuple[float, float]:
    """Font size (points) and box line width (points) for a drawn photo whose longer side is this many pixels.

    Examples:
        >>> style(600), style(1600)
        ((9.0, 1.5), (15.0, 3.2))
    """
    font = min(max(longer_side_px / 90, 9.0), 15.0)
    line = min(max(longer_side_px / 500, 1.5), 3.5)
    return round(font, 1), round(line, 1)


def label_texts(index: int, label: str, score: float, mask_note: str = "",
                masked_style: str | None = None) -> list[str]:
    """A face's label on one line, and (when it has a second part) on two.

    Examples:
        >>> label_texts(0, "happy", 0.92, " · mask 0%")
        ['0: happy 92% · mask 0%', '0: happy 92%\\nmask 0%']
        >>> label_texts(1, "sad", 0.8)
        ['1: sad 80%']
    """
    head = f"{index}: {label} {score:.0%}"
    style_note = f"[{masked_style}]" if masked_style else ""
    tail = " ".join(part for part in (mask_note.removeprefix(" · "), style_note) if part)
    if not tail:
        return [head]
    return [f"{head}{mask_note}{' ' + style_note if style_note else ''}", f"{head}\n{tail}"]


@dataclass(frozen=True)
class Label:
    """Where a face's label goes, in photo pixels (y down).

    Attributes:
        text: The text (one or two lines).
        fontsize: Its size in points.
        x: Left edge of the label's background.
        y: Top edge of the label's background.
        width: Width of the background.
        height: Height of the background.
    """

    text: str
    fontsize: float
    x: float
    y: float
    width: float
    height: float

    @property
    def rect(self) -> Box:
        """``(left, top, right, bottom)`` of the background."""
        return self.x, self.y, self.x + self.width, self.y + self.height


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _spots(box: Box, w: float, h: float, size: tuple[int, int], gap: float) -> list[Box]:
    """Above, below and inside the top of ``box``: a ``w`` x ``h`` label's rectangles that fit in the photo."""
    l, t, _, b = box
    width, height = size
    x = min(max(l, 0.0), max(width - w, 0.0))
    rects = [(x, y, x + w, y + h) for y in (t - gap - h, b + gap, max(t, 0.0) + gap)]
    return [r for r in rects if r[1] >= 0 and r[3] <= height and r[2] <= width + 0.5]


def _sizes(fontsize: float, min_fontsize: float) -> list[float]:
    sizes = [fontsize]
    while sizes[-1] * 0.85 >= min_fontsize:
        sizes.append(round(sizes[-1] * 0.85, 2))
    return sizes


def place_labels(
    boxes: Sequence[Box],
    texts: Sequence[Sequence[str]],
    measure: Measure,
    size: tuple[int, int],
    fontsize: float,
    *,
    min_fontsize: float = 7.0,
    gap: float = 2.0,
) -> list[Label]:
    """One label per box, placed as the module describes.

    Args:
        boxes: Face boxes ``(left, top, right, bottom)`` in photo pixels.
        texts: Per box, its text variants in order of preference (see :func:`label_texts`).
        measure: ``measure(text, fontsize) -> (width, height)`` of the label's
            background in photo pixels.
        size: The photo's ``(width, height)``.
        fontsize: The preferred font size in points.
        min_fontsize: The smallest size a crowded label shrinks to.
        gap: Photo pixels between a box and its label.

    Returns:
        The labels, in the order of ``boxes``.
    """
    placed: list[Label] = []
    sizes = _sizes(fontsize, min_fontsize)
    for i, (box, options) in enumerate(zip(boxes, texts)):
        others = [b for j, b in enumerate(boxes) if j != i]
        taken = [p.rect for p in placed]
        label = None
        for obstacles in (taken + others, taken):  # a neighbour's face is covered only where nothing else fits
            label = label or _first_free(box, options, measure, size, sizes, gap, obstacles)
        if label is None:  # no free spot beside the box: the smallest label, moved as little as will clear the others
            fs = sizes[-1]
            w, h = measure(options[-1], fs)
            x, y = _nearest_clear(box, w, h, size, gap, taken, others)
            label = Label(options[-1], fs, x, y, w, h)
        placed.append(label)
    return placed


def _nearest_clear(box: Box, w: float, h: float, size: tuple[int, int], gap: float, taken: list[Box],
                   others: list[Box]) -> tuple[float, float]:
    """Where a crowded ``w`` x ``h`` label goes: its top-left corner, shifted sideways and stacked away from ``box``.

    The spot is inside the photo and clear of the ``taken`` labels (and, where
    it can be, of the ``others`` boxes), the nearest such to the box's top;
    where every spot overlaps a label, the one that overlaps least.
    """
    l, t, _, b = box
    width, height = size
    xs = {min(max(l + k * w / 2, 0.0), max(width - w, 0.0)) for k in range(-4, 5)}
    ys = [t - gap - h - j * h / 2 for j in range(9)] + [b + gap + j * h / 2 for j in range(9)]
    ys = [y for y in ys if 0 <= y <= height - h] or [min(max(t - gap - h, 0.0), max(height - h, 0.0))]

    def cost(x: float, y: float) -> tuple[float, bool, float]:
        rect = (x, y, x + w, y + h)
        covered = sum(max(0.0, min(r[2], rect[2]) - max(r[0], rect[0]))
                      * max(0.0, min(r[3], rect[3]) - max(r[1], rect[1])) for r in taken)
        return covered, any(_overlaps(rect, o) for o in others), abs(x - l) + abs(y + h - t)

    return min(((x, y) for x in sorted(xs) for y in ys), key=lambda xy: cost(*xy))


def _first_free(box: Box, options: Sequence[str], measure: Measure, size: tuple[int, int], sizes: list[float],
                gap: float, obstacles: list[Box]) -> Label | None:
    """The first label (largest size, then text variant, then spot) that overlaps none of ``obstacles``."""
    for fs in sizes:
        for text in options:
            w, h = measure(text, fs)
            for rect in _spots(box, w, h, size, gap):
                if not any(_overlaps(rect, o) for o in obstacles):
                    return Label(text, fs, rect[0], rect[1], w, h)
    return None


def text_measurer(scale: float, pad_pt: float, dpi: float = 100.0) -> Measure:
    """``measure(text, fontsize)``: the size in photo pixels of a label drawn ``scale`` figure pixels per photo pixel.

    Text is laid out by matplotlib on a scratch figure of its own (lines 1.2
    font sizes apart, as :func:`draw_faces` draws them), plus ``pad_pt`` on
    every side.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scratch = Figure(dpi=dpi)
    renderer = FigureCanvasAgg(scratch).get_renderer()
    pad = 2 * pad_pt * dpi / 72.0

    def measure(text: str, fontsize: float) -> tuple[float, float]:
        t = scratch.text(0, 0, text, fontsize=fontsize, linespacing=1.2)
        extent = t.get_window_extent(renderer)
        t.remove()
        return (extent.width + pad) / scale, (extent.height + pad) / scale

    return measure


def new_axes(shape: tuple[int, int], title: bool) -> Axes:
    """Axes that fill a new figure of the photo's display size (:func:`display_scale`), a band above for a title."""
    from matplotlib.figure import Figure

    h, w = shape
    scale = display_scale(h, w)
    font, _ = style(max(h, w) * scale)
    band = (1.6 * (font + 1) + 8) * 100 / 72 if title else 0.0  # the title's line and its pad, in pixels
    fig = Figure(figsize=(w * scale / 100, (h * scale + band) / 100), dpi=100)
    return fig.add_axes((0.0, 0.0, 1.0, h * scale / (h * scale + band)))


def draw_faces(ax: Axes, shape: tuple[int, int], predictions: Sequence[Prediction], colors: Sequence[str]) -> float:
    """Draw each face's box and its placed label on ``ax`` (which shows the photo); returns the label font size.

    Sizes follow the photo as drawn: ``ax``'s size on its figure.
    """
    from matplotlib.patches import Rectangle

    h, w = shape
    bbox = ax.get_window_extent()
    scale = min(bbox.width / max(w, 1), bbox.height / max(h, 1))
    fontsize, linewidth = style(max(h, w) * scale)
    pad = 0.25 * fontsize  # points around the text
    dpi = float(ax.figure.dpi)
    texts = [label_texts(p.index, p.label, p.score, p.mask_note, p.masked_style) for p in predictions]
    boxes = [tuple(float(v) for v in p.box) for p in predictions]
    labels = place_labels(boxes, texts, text_measurer(scale, pad, dpi), (w, h), fontsize,  # type: ignore[arg-type]
                          gap=linewidth * dpi / 72 / scale)
    offset = pad * dpi / 72 / scale  # from the background's corner to the text's
    for p, label, color in zip(predictions, labels, colors):
        l, t, r, b = p.box
        ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, edgecolor=color, linewidth=linewidth))
        ax.text(label.x + offset, label.y + offset, label.text, color="white", fontsize=label.fontsize,
                va="top", ha="left", linespacing=1.2,
                bbox={"facecolor": color, "alpha": 0.85, "pad": pad, "edgecolor": "none"})
    return fontsize
