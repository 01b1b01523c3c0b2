"""Predict emotions on the faces in photos with a trained model bundle.

A :class:`Predictor` joins a face finder (:class:`~fermask.FaceAnalyzer`) and a
Keras or TFLite model. It reads everything it needs (labels, input size, colour
mode, face margin, output kind) from a bundle written by :func:`fermask.save_bundle`,
``fermask train`` or ``fermask export``, so loading one folder is enough (a
TFLite bundle runs on LiteRT, without TensorFlow); a downloaded
pretrained model loads by its name (see :mod:`fermask.pretrained`)::

    predictor = Predictor.load("fer-mini-xception")  # after: fermask download-model
    for p in predictor.predict("group_photo.jpg"):
        print(p.index, p.box, p.label, round(p.score, 2))

Faces are cropped from their box (grown by the bundle's ``face_margin``;
edge pixels are repeated where the grown box leaves the image), converted
to the model's colour mode, resized with PIL's antialiased bilinear filter
and given to the model as float32 values in 0-255 (fermask models scale
inside themselves; a bundle whose ``pixel_range`` says otherwise gets its
range). Model calls are batched: :meth:`Predictor.predict_many`
gathers the faces of many images into few calls.

An image with no face gives an empty :class:`PredictionList`. Asking it for
its :meth:`~PredictionList.top_emotion` raises :class:`~fermask.NoFaceError`
with a clear message (never an ``IndexError``), unless a ``default`` is given.

The package is one job per module: ``_predictor`` (the :class:`Predictor`:
its setup, its model calls, one image), ``_pending`` (one image's faces
between the face finder and the model, and the :class:`PredictionList` made
of their scores), ``_stream`` (many images: faces found in threads, crops
scored in few model calls) and ``_deprecated`` (old names that warn). The
result records live in :mod:`fermask.results`; this module re-exports them
with the public names.

Examples:
    >>> from fermask import Predictor
    >>> from fermask.assets import example_photo
    >>> predictor = Predictor.load("fer-mini-xception")  # doctest: +SKIP
    >>> label, score = predictor.predict(example_photo()).top_emotion()  # doctest: +SKIP
    >>> label, round(score, 3)  # doctest: +SKIP
    ('happy', 0.999)
"""

from __future__ import annotations

from ..results import Prediction, PredictionList, top_emotion
from ._deprecated import crop_face
from ._predictor import Predictor

__all__ = [
    "Prediction",
    "PredictionList",
    "Predictor",
    "top_emotion",
    "crop_face",  # deprecated alias of fermask.crop_face
]
