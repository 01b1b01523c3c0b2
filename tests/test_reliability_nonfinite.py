"""Issue 25, item 8: NaN and infinity never reach a bundle, a prediction or a JSON line.

``import-model --scale nan,0`` (also ``inf,0``, ``1e400,0``) wrote a bundle whose
every prediction was NaN; ``predict --json`` then printed ``"score": NaN`` (not
JSON) and ``adapt`` with it as teacher reported 100 % agreement with a NaN loss.
Now the scale is refused, a bundle description with a non-finite pixel range is
refused, and model outputs that are not finite are a one-line error wherever
they are turned into probabilities (``to_probabilities``: the predictor, the
teacher of ``adapt`` and ``train``'s distillation, evaluation).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.bundle import BundleInfo, to_probabilities
from fermask.cli import main
from fermask.errors import DataFormatError
from fermask.pretrained import scale_factors

TINY = Path(__file__).parent / "data" / "tiny_tflite_bundle"


@pytest.mark.parametrize("scale", ["nan,0", "inf,0", "1e400,0", "-inf,0", "1,nan", "0,0", (math.nan, 0.0), (1.0, math.inf)])
def test_a_non_finite_or_zero_scale_is_refused(scale: object) -> None:
    with pytest.raises(DataFormatError, match="needs finite numbers and a FACTOR other than 0"):
        scale_factors(scale)  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", ["nan,0", "inf,0", "1e400,0"])
def test_import_model_refuses_the_scale_before_any_work(
    scale: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.h5"
    model.write_bytes(b"not read: the scale is checked first")
    assert main(["import-model", str(model), "-o", str(tmp_path / "b"), "--scale", scale]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "finite" in err and scale in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("pixel_range", [(0.0, math.inf), (-math.inf, 1.0), (math.nan, 1.0)])
def test_bundle_info_refuses_a_non_finite_pixel_range(pixel_range: tuple[float, float]) -> None:
    with pytest.raises(DataFormatError, match="two finite numbers"):
        BundleInfo(pixel_range=pixel_range)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_model_outputs_are_refused(bad: float) -> None:
    raw = np.full((3, 7), 1 / 7)
    raw[1, 2] = bad
    with pytest.raises(DataFormatError, match="not finite numbers .* for 1 of 3 images"):
        to_probabilities(raw, 7)


def test_predict_json_never_prints_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that answers NaN (a bundle written before this check): one line on stderr, exit 2, no NaN printed."""
    from fermask.predictor import Predictor

    monkeypatch.setattr(Predictor, "_model_fn", lambda self: (lambda x: np.full((len(x), 7), np.nan, np.float32)))
    photo = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(photo)
    rc = main(["predict", str(photo), "-m", str(TINY), "--face-policy", "full_frame", "--json", "-q"])
    cap = capsys.readouterr()
    assert "NaN" not in cap.out
    for line in cap.out.splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} printed as JSON"))
    err = cap.err.strip()
    assert rc == 2 and "\n" not in err and "outputs are not finite" in err and "import or train it again" in err


def test_adapt_refuses_a_teacher_whose_outputs_are_not_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The teacher's answers are checked before any training (no "100 % agreement" with a NaN loss)."""
    pytest.importorskip("tensorflow")
    from fermask import adaptation, evaluation
    from fermask.data.synthetic import make_synthetic_fer
    from fermask.training.config import AdaptConfig

    faces = make_synthetic_fer(8, seed=0)
    monkeypatch.setattr(adaptation, "load_faces", lambda *a, **k: faces)
    monkeypatch.setattr(evaluation, "predict_scores", lambda model, ds, batch_size: np.full((len(ds), 7), np.nan))
    with pytest.raises(DataFormatError, match="the teacher cannot teach: the model's outputs are not finite"):
        adaptation._prepare(None, BundleInfo(), "faces", None, AdaptConfig(), progress=False)
