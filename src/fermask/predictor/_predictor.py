"""The :class:`Predictor`: a face finder and a Keras or TFLite model, read from a bundle; its setup, its model calls and one image."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import _image
from .._choices import ON_ERROR_POLICIES, check_choice
from .._image import ImageInput, fit_image, load_image, to_gray
from .._parallel import check_workers, cpu_count
from ..bundle import BundleInfo, TFLiteModel, load_bundle
from ..errors import DataFormatError, InvalidTypeError, InvalidValueError
from ..faces import DEFAULT_MIN_SCORE, MASKED_THRESHOLD, FaceOptions
from ..results import PredictionList
from ._pending import Pending, describe, to_prediction_list
from ._routing import MaskRouting
from ._stream import find_and_crop_each, score_in_batches

if TYPE_CHECKING:  # pragma: no cover
    from ..faces import Detector, Face, FaceAnalyzer, Policy

__all__ = ["Predictor"]


class Predictor:
    """Emotion scores for every face in an image, from a Keras or TFLite model.

    Use :meth:`load` for a bundle; the constructor wraps a Keras model given
    by hand (whatever it cannot read from the model is taken from ``info``
    or the keyword arguments).

    Args:
        model: A Keras model or a :class:`~fermask.bundle.TFLiteModel` taking float32 pixels (in
            ``info.pixel_range``, by default 0-255) of shape
            ``input_shape`` and returning one score per label (softmax) or
            one probability of ``labels[1]`` (sigmoid).
        info: The model's :class:`~fermask.BundleInfo`; built from the model
            and the keyword arguments when ``None``.
        labels: Label names in output order (default: the seven FER2013
            emotions for a 7-way model).
        face_margin: Border added around face boxes, as a fraction of their size.
        detector: ``"hybrid"`` (default: dlib's HOG and Google's BlazeFace
            combined; finds most masked faces), ``"hog"``, ``"blazeface"``,
            ``"cnn"`` or ``"auto"`` (see :class:`~fermask.faces.FaceAnalyzer`).
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"``; see
            :class:`~fermask.FaceAnalyzer`.
        upsample: Detector upsampling (``None``: chosen by image size).
        min_score: Detections scoring below this are dropped (default and
            ``None``: :data:`fermask.faces.DEFAULT_MIN_SCORE`). The face-finder
            options are defined and checked by :class:`~fermask.faces.FaceOptions`.
        simulate_mask: A mask style name, a ``MaskStyle``, a list of names,
            ``"random"`` or a ready :class:`~fermask.Masker`: every face is
            masked before its crop is taken, to try a model on masked faces
            with ordinary photos.
        mask_seed: Seed of the masker's random choices (colours, ``"random"``).
        landmarks_path: Path of dlib's 68-point landmark model.
        analyzer: A ready :class:`~fermask.FaceAnalyzer` (overrides
            ``detector``, ``face_policy``, ``upsample``, ``landmarks_path``).
        keep_masked_images: With ``simulate_mask``, keep each masked image in
            :attr:`PredictionList.masked_image` (for plots; costs memory).
        mask_presence: Score each face's mask presence with fermask's mask
            classifier (:class:`~fermask.faces.MaskPresence`), giving every
            :class:`~fermask.Prediction` its ``mask_score`` and ``masked``.
        mask_threshold: Faces whose mask score reaches this count as masked.
        masked: A second model for masked faces: a :class:`Predictor`, or a
            bundle folder or pretrained name (loaded with this predictor's
            face options). Faces counted as masked are answered by it, the
            others by ``model``; its labels must be the same.
        name: What to call ``model`` in :attr:`Prediction.model`
            (:meth:`load` gives the bundle's name).

    Examples:
        >>> import keras  # doctest: +SKIP
        >>> model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255),
        ...     keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])  # doctest: +SKIP
        >>> Predictor(model).labels  # doctest: +SKIP
        ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']
    """

    def __init__(
        self,
        model: Any,
        info: BundleInfo | None = None,
        *,
        labels: Sequence[str] | None = None,
        face_margin: float | None = None,
        detector: Detector = "hybrid",
        face_policy: Policy = "auto",
        upsample: int | None = None,
        min_score: float | None = DEFAULT_MIN_SCORE,
        simulate_mask: Any = None,
        mask_seed: int = 0,
        landmarks_path: str | os.PathLike[str] | None = None,
        analyzer: FaceAnalyzer | None = None,
        keep_masked_images: bool = False,
        mask_presence: bool = True,
        mask_threshold: float = MASKED_THRESHOLD,
        masked: Any = None,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.name = name
        self.keep_masked_images = bool(keep_masked_images)
        if info is None:
            info = BundleInfo.from_model(model, labels)
        elif labels is not None:
            info = replace(info, labels=[str(x) for x in labels])  # replace(): checked again, caller's info untouched
        if face_margin is not None:
            info = replace(info, face_margin=face_margin)
        info.check_model(model, "Predictor", fix="pass labels=[...] or a BundleInfo that describes this model")
        self.info = info
        self._analyzer = analyzer
        score = DEFAULT_MIN_SCORE if min_score is None else min_score
        self._face_options = FaceOptions(face_policy, detector, upsample, score, landmarks_path)
        self.simulate_mask = simulate_mask
        self.mask_seed = int(mask_seed)
        self._masker: Any = None
        self._fn: Any = None
        self._warned_logits = False
        if simulate_mask is not None:
            _ = self.masker  # an unknown style fails here, not once per image
        self.routing = MaskRouting(mask_presence, mask_threshold, self._second_model(masked))

    def _second_model(self, masked: Any) -> Predictor | None:
        if masked is None:
            return None
        if not isinstance(masked, Predictor):
            if not isinstance(masked, (str, os.PathLike)):
                raise InvalidTypeError(
                    f"masked= takes a Predictor, a bundle folder or a pretrained name, got {type(masked).__name__}"
                )
            masked = Predictor.load(masked, mask_presence=False, analyzer=self._analyzer, **self._face_kwargs())
        if list(masked.labels) != list(self.labels):
            raise InvalidValueError(
                f"the model for masked faces has labels {masked.labels}, but this predictor's model has "
                f"{self.labels}; both must give the same labels in the same order"
            )
        return masked

    def _face_kwargs(self) -> dict[str, Any]:
        o = self._face_options
        return {"detector": o.detector, "face_policy": o.face_policy, "upsample": o.upsample,
                "min_score": o.min_score, "landmarks_path": o.landmarks_path}

    def mask_scores(self, crops: Iterable[ImageInput]) -> np.ndarray:
        """How likely each face crop shows a masked face, 0-1 (fermask's mask classifier).

        Args:
            crops: Face images (any size, gray or RGB; best cut as
                :func:`fermask.faces.presence_crop` cuts them: the face box
                made square with 15 % added on every side).

        Returns:
            ``(n,)`` float32 scores; at least :attr:`mask_threshold` means masked.

        Raises:
            FermaskError: The classifier cannot run here.

        Examples:
            >>> predictor.mask_scores([bare_face, masked_face]).round(2)  # doctest: +SKIP
            array([0.01, 0.99], dtype=float32)
        """
        return self.routing.scores(list(crops))

    @property
    def mask_threshold(self) -> float:
        """Faces whose mask score reaches this count as masked."""
        return self.routing.threshold

    # ------------------------------------------------------------------ setup
    @classmethod
    def load(cls, bundle: str | os.PathLike[str], **kwargs: Any) -> Predictor:
        """Load a model bundle, or a downloaded pretrained model by name.

        A thin layer over :func:`fermask.load_bundle` (which resolves the
        name or path with :func:`fermask.pretrained.locate_bundle`).

        Args:
            bundle: A bundle folder (``model.keras`` + ``fermask.json``), or
                the name of a pretrained model (``"fer-mini-xception"``; see
                ``fermask pretrained``). ``"pretrained:NAME"`` always means
                the pretrained model, ``"./NAME"`` always the folder.
            **kwargs: Any keyword argument of :class:`Predictor` (``detector``,
                ``simulate_mask``, ...).

        Returns:
            A predictor that knows the bundle's labels, input size, colour
            mode and face margin.

        Raises:
            AmbiguousNameError: A plain pretrained name that is also an
                existing folder; the message says how to choose.
            FermaskError: A pretrained name that is not downloaded yet (the
                message is the command that downloads it).
            DataFormatError: Neither a bundle folder nor a pretrained name.

        Warns:
            UserWarning: The bundle was trained on fermask's synthetic data,
                so its answers on real faces mean nothing.

        Examples:
            >>> Predictor.load("fer-mini-xception", detector="auto")  # doctest: +SKIP
            Predictor(labels=7, input_shape=(64, 64, 1), color_mode='grayscale', ...)
        """
        model, info = load_bundle(bundle)
        kwargs.setdefault("name", os.fspath(bundle).removeprefix("pretrained:"))
        if info.synthetic:
            warnings.warn(
                f"the bundle '{bundle}' was trained on synthetic data ({info.data_source[:200]}); its "
                "predictions on real faces are meaningless. Use it to try the pipeline, or load a model "
                "trained on real faces (fermask download-model fer-mini-xception).",
                UserWarning,
                stacklevel=2,
            )
        return cls(model, info, **kwargs)

    @property
    def labels(self) -> list[str]:
        """Label names in the model's output order."""
        return list(self.info.labels)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of the model's input."""
        return self.info.input_shape

    @property
    def analyzer(self) -> FaceAnalyzer:
        """The face finder (created on first use)."""
        if self._analyzer is None:
            self._analyzer = self._face_options.analyzer()
        return self._analyzer

    @property
    def masker(self) -> Any:
        """The :class:`~fermask.Masker` used by ``simulate_mask``, or ``None``."""
        if self.simulate_mask is None:
            return None
        if self._masker is None:
            from ..masker import Masker

            if isinstance(self.simulate_mask, Masker):
                self._masker = self.simulate_mask
            else:
                self._masker = Masker(
                    style=self.simulate_mask,
                    seed=self.mask_seed,
                    keep_color=self.info.color_mode == "rgb",
                    landmarks_path=self._face_options.landmarks_path,
                )
        return self._masker

    def __repr__(self) -> str:
        det = self._analyzer.detector if self._analyzer is not None else self._face_options.detector
        return (
            f"Predictor(labels={len(self.info.labels)}, input_shape={self.info.input_shape}, "
            f"color_mode={self.info.color_mode!r}, output={self.info.output!r}, detector={det!r}, "
            f"simulate_mask={self.simulate_mask!r})"
        )

    # --------------------------------------------------------------- the model
    def _model_fn(self) -> Any:
        if self._fn is None and isinstance(self.model, TFLiteModel):
            self._fn = self.model  # runs on LiteRT: no TensorFlow
        if self._fn is None:
            from .._tf import tf_module

            tf = tf_module()
            model = self.model
            self._fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return self._fn

    def preprocess(self, crop: np.ndarray) -> np.ndarray:
        """Turn a ``uint8`` face crop into one model input: colour mode, size, float32 0-255.

        Args:
            crop: ``(h, w)`` gray or ``(h, w, 3)`` RGB ``uint8`` array.

        Returns:
            ``input_shape`` float32 array.
        """
        h, w, _ = self.info.input_shape
        out = fit_image(crop, (h, w), self.info.color_mode).astype(np.float32)
        return out[..., None] if out.ndim == 2 else out

    def scores(self, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Run the model on preprocessed inputs and return probabilities.

        Inputs are scaled to the bundle's :attr:`~fermask.BundleInfo.pixel_range`
        when it is not 0-255 (fermask's own models scale inside themselves).

        Args:
            inputs: ``(n, height, width, channels)`` float32 in 0-255.
            batch_size: Most inputs per model call.

        Returns:
            ``(n, len(labels))`` float64 array; each row sums to 1.
        """
        n_labels = len(self.info.labels)
        if len(inputs) == 0:
            return np.zeros((0, n_labels))
        expect = tuple(self.info.input_shape)
        if tuple(inputs.shape[1:]) != expect:
            raise DataFormatError(f"model inputs must have shape (n, {expect}), got {inputs.shape}")
        fn = self._model_fn()
        factor, offset = self.info.pixel_scale
        outs = []
        for i in range(0, len(inputs), max(1, int(batch_size))):
            x = np.ascontiguousarray(inputs[i : i + batch_size], dtype=np.float32)
            if (factor, offset) != (1.0, 0.0):  # a model taking another range than 0-255 (pixel_range)
                x = x * np.float32(factor) + np.float32(offset)
            y = fn(x)
            outs.append(np.asarray(y, dtype=np.float64).reshape(len(inputs[i : i + batch_size]), -1))
        return self._normalised(self.info.to_probabilities(np.concatenate(outs)))

    def _normalised(self, raw: np.ndarray) -> np.ndarray:
        """Rows scaled to sum to 1; outputs that are not probabilities (logits) get a softmax and one warning."""
        sums = raw.sum(axis=1, keepdims=True)
        # an int8 model's outputs are multiples of 1/256: its rows sum to 1 only within a step per label
        atol = max(1e-3, len(self.labels) / 256) if self.info.quantization == "int8" else 1e-3
        if (raw < 0).any() or not np.allclose(sums, 1.0, atol=atol):
            if not self._warned_logits:
                warnings.warn(
                    "the model's outputs are not probabilities (negative values or rows not summing "
                    "to 1); applying softmax. End the model with a softmax activation to silence this.",
                    stacklevel=4,
                )
                self._warned_logits = True
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return raw / sums

    # ------------------------------------------------------------- prediction
    def _find_and_crop(self, image: ImageInput, faces: Sequence[Face] | None = None) -> Pending:
        """One image's faces found (unless given), masked (``simulate_mask``) and cropped for the model."""
        source = describe(image)
        arr = load_image(image)
        gray = None
        if faces is None:
            gray = to_gray(arr)
            faces = self.analyzer.find_in_gray(gray, arr)
        faces = list(faces)
        styles: list[str | None] = [None] * len(faces)
        masked = None
        if faces and self.masker is not None:
            res = self.masker.mask_faces(arr, faces, gray=gray)
            if res.image is not None:
                arr = res.image
                masked = arr if self.keep_masked_images else None
            styles = list(res.styles) + [None] * (len(faces) - len(res.styles))
        margin = float(self.info.face_margin)
        crops = [self.preprocess(_image.crop_face(arr, f.box, margin)) for f in faces]
        pending = Pending(faces, crops, styles, source, (int(arr.shape[0]), int(arr.shape[1])), masked=masked)
        self.routing.add_to(pending, arr, faces)
        return pending

    def _finish(self, pending: Pending, probs: np.ndarray) -> PredictionList:
        """The predictions of one image whose crops the model has scored (masked faces re-answered when routing)."""
        second = self.routing.masked
        if second is not None:
            probs = self.routing.route(pending, probs, second.scores)
        names = (self.name, None if second is None else second.name)
        return to_prediction_list(pending, probs, self.info.labels, threshold=self.routing.threshold, names=names)

    def predict(self, image: ImageInput, faces: Sequence[Face] | None = None) -> PredictionList:
        """Find every face in an image and score its emotions.

        Args:
            image: A path, encoded bytes, a PIL image or an array (gray, RGB
                or RGBA; uint8 or float).
            faces: Faces already found (skips detection), e.g. from
                :meth:`FaceAnalyzer.find`.

        Returns:
            One :class:`Prediction` per face, left to right; empty when no
            face was found.

        Raises:
            ImageError: The image cannot be read.

        Examples:
            >>> preds = predictor.predict("photo.jpg")  # doctest: +SKIP
            >>> [(p.index, p.label) for p in preds]  # doctest: +SKIP
            [(0, 'happy'), (1, 'neutral')]
        """
        pending = self._find_and_crop(image, faces)
        probs = self.scores(np.stack(pending.crops)) if pending.crops else np.zeros((0, len(self.labels)))
        return self._finish(pending, probs)

    def predict_crops(self, crops: Iterable[ImageInput], batch_size: int = 64) -> np.ndarray:
        """Score images that already are face crops (no detection, no masking).

        Args:
            crops: Face images (any size; resized to the model's input).
            batch_size: Most crops per model call.

        Returns:
            ``(n, len(labels))`` probabilities.
        """
        inputs = [self.preprocess(load_image(c)) for c in crops]
        if not inputs:
            return np.zeros((0, len(self.labels)))
        return self.scores(np.stack(inputs), batch_size=batch_size)

    def iter_predict(
        self,
        images: Iterable[ImageInput],
        batch_size: int = 64,
        *,
        on_error: Literal["raise", "record"] = "raise",
        workers: int | None = None,
    ) -> Iterator[PredictionList]:
        """Like :meth:`predict_many`, but yields results as they are ready (bounded memory)."""
        check_choice(on_error, ON_ERROR_POLICIES, "on_error")
        batch_size = max(1, int(batch_size))
        threads = self._threads(workers)
        if threads != 1:
            self.analyzer  # noqa: B018 - created once here, not by racing threads
        pendings = find_and_crop_each(self._find_and_crop, images, on_error, threads)
        for pending, probs in score_in_batches(pendings, self.scores, len(self.labels), batch_size):
            yield self._finish(pending, probs)

    def _threads(self, workers: int | None) -> int:
        workers = check_workers(workers)
        if self.masker is not None:  # the masker's random choices follow the order of its calls
            return 1
        return min(4, cpu_count()) if workers is None else int(workers)

    def predict_many(
        self,
        images: Iterable[ImageInput],
        batch_size: int = 64,
        *,
        progress: bool = False,
        on_error: Literal["raise", "record"] = "raise",
        workers: int | None = None,
    ) -> list[PredictionList]:
        """Predict on many images, batching their faces into few model calls.

        Faces are found in several images at once (threads: dlib's detector
        runs outside Python's lock); their crops are gathered until
        ``batch_size`` faces wait, then scored in one model call. Results
        equal those of :meth:`predict` on each image, in input order.

        Args:
            images: Images in any form :meth:`predict` takes.
            batch_size: Faces per model call.
            progress: Show a progress bar.
            on_error: ``"raise"`` stops at the first unreadable image;
                ``"record"`` gives it an empty list whose ``error`` says why.
            workers: Threads that find faces (``None``: one per CPU, at most
                4). With ``simulate_mask`` one thread is used, so that the
                masks drawn follow the order of the images.

        Returns:
            One :class:`PredictionList` per image, in input order.

        Examples:
            >>> results = predictor.predict_many(["a.jpg", "b.jpg"], batch_size=32)  # doctest: +SKIP
            >>> [len(r) for r in results]  # doctest: +SKIP
            [1, 3]
        """
        from tqdm.auto import tqdm

        seq = list(images) if not isinstance(images, Sequence) else images
        it = self.iter_predict(seq, batch_size, on_error=on_error, workers=workers)
        return list(tqdm(it, total=len(seq), desc="predict", unit="img", disable=not progress))
