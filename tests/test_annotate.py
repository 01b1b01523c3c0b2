"""Annotated photos: the figure follows the photo's size, and face labels stay inside it and apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fermask import _annotate
from fermask.results import Prediction


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _row_of_faces(n: int, width: int, top: int = 300, side: int = 120) -> list[Prediction]:
    """``n`` faces side by side across a ``width``-pixel photo, with a mask score each (long labels)."""
    step = width // n
    return [
        Prediction(i, (i * step + 20, top, i * step + 20 + side, top + side), "neutral",
                   {"neutral": 0.96, "happy": 0.04}, mask_score=0.01)
        for i in range(n)
    ]


def _drawn(fig) -> tuple[object, list[tuple[float, float, float, float]]]:  # type: ignore[no-untyped-def]
    """Render ``fig``; returns its pixel array and each label's background in figure pixels (y down)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    height = fig.bbox.height
    rects = []
    for text in fig.axes[0].texts:
        e = text.get_bbox_patch().get_window_extent(renderer)
        rects.append((e.x0, height - e.y1, e.x1, height - e.y0))
    return np.asarray(canvas.buffer_rgba()), rects


def test_place_labels_keeps_crowded_labels_apart_and_inside() -> None:
    boxes = [(x, 100.0, x + 40.0, 140.0) for x in range(0, 400, 50)]  # faces closer than their labels are wide
    texts = [_annotate.label_texts(i, "surprise", 0.5, " · masked 0.99") for i in range(len(boxes))]

    def measure(text: str, fontsize: float) -> tuple[float, float]:  # 0.6 em a character, 1.2 em a line
        lines = text.split("\n")
        return 0.6 * fontsize * max(map(len, lines)), 1.2 * fontsize * len(lines)

    labels = _annotate.place_labels(boxes, texts, measure, (400, 300), 10.0)
    assert len(labels) == len(boxes)
    for a, b in itertools.combinations(labels, 2):
        assert not _overlap(a.rect, b.rect), (a, b)
    for label in labels:
        left, top, right, bottom = label.rect
        assert left >= 0 and top >= 0 and right <= 400 and bottom <= 300
    # crowding costs: some labels moved below their face, went on two lines or shrank
    assert {lab.y > 140 for lab in labels} == {False, True}
    assert any("\n" in lab.text or lab.fontsize < 10 for lab in labels)


@pytest.mark.parametrize(("shape", "drawn"), [((800, 2400), (1600, 533)), ((500, 1000), (1000, 500)),
                                              ((100, 200), (600, 300))])
def test_annotated_figure_follows_the_photo_size(shape: tuple[int, int], drawn: tuple[int, int]) -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots

    fig = plots.annotate_image(np.full(shape, 120, np.uint8), [])
    pixels, _ = _drawn(fig)
    assert (pixels.shape[1], pixels.shape[0]) == pytest.approx(drawn, abs=1)
    titled, _ = _drawn(plots.annotate_image(np.full(shape, 120, np.uint8), [], title="group.jpg"))
    assert titled.shape[1] == pixels.shape[1] and titled.shape[0] > pixels.shape[0]  # a band for the title


def test_group_photo_labels_are_legible_and_do_not_collide() -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots

    preds = _row_of_faces(6, 2400)
    fig = plots.annotate_image(np.full((800, 2400, 3), 200, np.uint8), preds, title="group.jpg")
    pixels, rects = _drawn(fig)
    assert pixels.shape[1] == 1600
    assert len(rects) == 6
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b), (a, b)
    image_top = pixels.shape[0] - 800 * 1600 / 2400
    for left, top, right, bottom in rects:  # inside the photo, under the title
        assert left >= -1 and right <= pixels.shape[1] + 1 and top >= image_top - 1 and bottom <= pixels.shape[0] + 1
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 9  # was 9 pt on a 600 px wide figure
    assert max(p.get_linewidth() for p in fig.axes[0].patches) > 2


def test_a_label_with_no_room_above_goes_below_its_face() -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots

    pred = Prediction(0, (100, 0, 220, 120), "happy", {"happy": 0.9, "sad": 0.1})  # the face touches the top
    fig = plots.annotate_image(np.full((400, 600), 90, np.uint8), [pred])
    pixels, [rect] = _drawn(fig)
    scale = pixels.shape[1] / 600
    assert rect[1] >= 120 * scale  # below the box's bottom edge
