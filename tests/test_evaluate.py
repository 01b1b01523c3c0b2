"""Evaluation metrics against hand-computed values, reports, per-style accuracy, model evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fermask.data import FERDataset, make_synthetic_fer
import fermask.evaluation.report as report_module
from fermask.errors import DataFormatError
from fermask.evaluation import (
    EvaluationReport,
    confusion_matrix,
    evaluate,
    per_class_scores,
    report_from_predictions,
    top_k_accuracy,
)

# 8 images, 3 classes. Scores chosen by hand; the argmax and the top-2 sets are:
#   row  true  scores              pred  top-2
#   0    0     .7 .2 .1            0     {0,1}
#   1    0     .3 .6 .1            1     {1,0}
#   2    0     .2 .3 .5            2     {2,1}   <- true class not in top-2
#   3    1     .1 .8 .1            1     {1,0}
#   4    1     .6 .3 .1            0     {0,1}
#   5    2     .1 .2 .7            2     {2,1}
#   6    2     .2 .5 .3            1     {1,2}
#   7    2     .1 .1 .8            2     {2,0}
Y = np.array([0, 0, 0, 1, 1, 2, 2, 2])
S = np.array(
    [[.7, .2, .1], [.3, .6, .1], [.2, .3, .5], [.1, .8, .1],
     [.6, .3, .1], [.1, .2, .7], [.2, .5, .3], [.1, .1, .8]]
)
STYLES = ["surgical", "surgical", "n95", "n95", "cloth", "cloth", "", "cloth"]


def test_confusion_matrix_by_hand() -> None:
    cm = confusion_matrix(Y, S.argmax(1), 3)
    # rows true, columns predicted
    assert cm.tolist() == [[1, 1, 1], [1, 1, 0], [0, 1, 2]]


def test_precision_recall_f1_by_hand() -> None:
    s = per_class_scores(confusion_matrix(Y, S.argmax(1), 3))
    # predicted counts per class: 2, 3, 3; true counts 3, 2, 3; correct 1, 1, 2
    np.testing.assert_allclose(s["precision"], [1 / 2, 1 / 3, 2 / 3])
    np.testing.assert_allclose(s["recall"], [1 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(s["f1"], [0.4, 0.4, 2 / 3])
    assert s["support"].tolist() == [3, 2, 3]


def test_top2_by_hand() -> None:
    assert top_k_accuracy(Y, S, 2) == pytest.approx(7 / 8)
    assert top_k_accuracy(Y, S, 1) == pytest.approx(4 / 8)
    assert top_k_accuracy(Y, S, 3) == 1.0


def test_zero_division_is_zero_and_absent_classes_leave_macro_f1() -> None:
    # class 2 never occurs and is never predicted; class 1 occurs but is never predicted
    r = report_from_predictions([0, 0, 1], np.eye(3)[[0, 0, 0]], ["a", "b", "c"])
    assert r.per_class[1]["precision"] == 0.0 and r.per_class[1]["f1"] == 0.0
    # F1 of a: p = 2/3, r = 1 -> 0.8; macro over {a, b} only
    assert r.macro_f1 == pytest.approx((0.8 + 0.0) / 2)


def test_report_by_hand_with_styles() -> None:
    r = report_from_predictions(Y, S, ["a", "b", "c"], styles=STYLES, heldout_styles=["cloth"])
    assert r.n == 8
    assert r.accuracy == pytest.approx(4 / 8)
    assert r.top2_accuracy == pytest.approx(7 / 8)
    assert r.macro_f1 == pytest.approx((0.4 + 0.4 + 2 / 3) / 3)
    # correct: rows 0, 3, 5, 7
    assert r.per_style["surgical"] == {"n": 2, "accuracy": 0.5, "heldout": False}
    assert r.per_style["n95"] == {"n": 2, "accuracy": 0.5, "heldout": False}
    assert r.per_style["cloth"] == {"n": 3, "accuracy": pytest.approx(2 / 3), "heldout": True}
    assert r.per_style["(unmasked)"]["n"] == 1 and r.per_style["(unmasked)"]["accuracy"] == 0.0
    assert r.heldout_accuracy == pytest.approx(2 / 3)
    assert r.seen_accuracy == pytest.approx(2 / 4)  # masked, not held out: rows 0-3


def test_sigmoid_scores_become_two_classes() -> None:
    r = report_from_predictions([0, 1, 1, 0], np.array([[0.2], [0.9], [0.4], [0.6]]), ["not happy", "happy"])
    assert r.confusion == [[1, 1], [1, 1]]
    assert r.accuracy == 0.5 and r.top2_accuracy is None


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(DataFormatError, match="3 labels|score"):
        report_from_predictions([0, 1], np.eye(2), ["a", "b", "c"])
    with pytest.raises(DataFormatError, match="no label"):
        report_from_predictions([-1, 1], np.eye(2), ["a", "b"])
    with pytest.raises(DataFormatError, match="outside"):
        confusion_matrix([0, 5], [0, 1], 3)


def test_json_markdown_round_trip_and_save(tmp_path: Path) -> None:
    r = report_from_predictions(Y, S, ["a", "b", "c"], styles=STYLES, heldout_styles=["cloth", "gas"], model="m")
    assert any("gas" in n for n in r.notes)  # a held-out style that is not in the data is noted
    again = EvaluationReport.from_json(r.to_json())
    assert again == r
    md = r.to_markdown()
    assert "| a | 0.500 | 0.333 | 0.400 | 3 |" in md
    assert "| **c** | 0 | 1 | 2 |" in md
    assert "| cloth | 3 | 66.7% | no (held out) |" in md
    paths = r.save(tmp_path)
    assert json.loads(paths["json"].read_text())["accuracy"] == 0.5
    assert paths["markdown"].read_text() == md
    if "plot" in paths:
        assert paths["plot"].stat().st_size > 1000


def test_plot_confusion_matrix_draws_one_cell_per_pair() -> None:
    pytest.importorskip("matplotlib")
    from fermask.plots import plot_confusion_matrix

    report = report_from_predictions(Y, S, ["a", "b", "c"])
    for given in (report, report.to_dict()):  # the report or its plain dict
        fig = plot_confusion_matrix(given, normalize=False)
        texts = sorted(t.get_text() for t in fig.axes[0].texts)
        assert texts == sorted(["1", "1", "1", "1", "1", "0", "0", "1", "2"])


def test_evaluation_plot_confusion_matrix_is_a_deprecated_alias() -> None:
    pytest.importorskip("matplotlib")
    from fermask import evaluation

    report = report_from_predictions(Y, S, ["a", "b", "c"])
    with pytest.warns(DeprecationWarning, match="use fermask.plots.plot_confusion_matrix instead"):
        fig = evaluation.plot_confusion_matrix(report, normalize=False, title="old")
    assert fig.axes[0].get_title() == "old"
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(["1", "1", "1", "1", "1", "0", "0", "1", "2"])


def test_evaluate_runs_a_model_on_a_dataset() -> None:
    keras = pytest.importorskip("keras")
    # a fixed "model": predicts the class from the image mean (mean pixel 0..255 -> 7 bins)
    ds = make_synthetic_fer(28, seed=3, balanced=True)
    images = np.repeat(((ds.labels * 36 + 10).astype(np.uint8))[:, None, None], 48, 1).repeat(48, 2)
    ds2 = FERDataset(images, ds.labels, styles=np.where(ds.labels % 2 == 0, "n95", "cloth"), source="constant images")
    centres = np.arange(7) * 36 + 10
    inp = keras.Input((48, 48, 1))
    m = keras.layers.GlobalAveragePooling2D()(inp)
    logits = keras.layers.Dense(7, kernel_initializer=keras.initializers.Constant(0.0))(m)
    model = keras.Model(inp, keras.layers.Softmax()(logits))
    # -(x - c)^2 = -x^2 + 2cx - c^2: the x^2 term is the same for all classes
    model.layers[2].set_weights([2.0 * centres[None, :].astype("float32"), -(centres**2).astype("float32")])
    r = evaluate(model, ds2, batch_size=8, heldout_styles=["cloth"])
    assert r.accuracy == 1.0 and r.heldout_accuracy == 1.0 and r.n == 28
    assert r.confusion == np.diag(np.bincount(ds.labels, minlength=7)).tolist()
    with pytest.raises(DataFormatError, match="score"):
        evaluate(model, ds2.binary("happy"))


def test_a_saved_confusion_plot_is_titled_with_what_was_evaluated(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from unittest import mock

    figures = []
    original = report_module._draw_confusion

    def draw(*args, **kwargs):  # type: ignore[no-untyped-def]
        figures.append(original(*args, **kwargs))
        return figures[-1]

    r = report_from_predictions(Y, S, ["a", "b", "c"])
    with mock.patch("fermask.evaluation.report._draw_confusion", draw):
        r.save(tmp_path / "teacher", name="run teacher: shallow_cnn")
        r.save(tmp_path / "plain")
    titled, plain = (fig.axes[0].get_title() for fig in figures)
    assert titled == "run teacher: shallow_cnn\naccuracy 50.0% (n=8)"
    assert plain == "accuracy 50.0% (n=8)"  # the plot's own default: the accuracy alone
