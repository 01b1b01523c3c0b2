"""Adapt a pretrained emotion model to masked faces, without labels.

A *teacher* (any bundle, a pretrained name such as ``"fer-mini-xception"``,
a Predictor or a Keras model) looks at every face unmasked; its
probabilities, softened by a temperature, are the targets. A *student*
(by default a copy of the teacher) learns to give the same answer when the
same face wears a mask: each epoch every face gets a new mask drawn at random
from the registered styles, colours and patterns (seeded), except a share of
faces left unmasked so that the student keeps working on unmasked faces.
No emotion label is read: any face data fermask reads will do.

Agreement with the teacher is the measure: the share of held-out faces,
masked, on which the student gives the teacher's unmasked answer. Keras'
``accuracy`` and ``val_accuracy`` in the history are exactly that.

Examples:
    >>> import fermask
    >>> result = fermask.adapt("fer-mini-xception", "fer2013.csv", out_dir="runs/adapted")  # doctest: +SKIP
    >>> result.agreement["masked_after"] > result.agreement["masked_before"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._choices import color_mode_of
from ._image import IMAGE_SUFFIXES, crop_face, fit_image, load_image, to_gray
from .bundle import BundleInfo, resolve_model, to_probabilities
from .data.dataset import FERDataset
from .errors import DataFormatError, FermaskError
from .training.config import AdaptConfig, resolve_adapt_config
from .training.run import Fitted, Measured, RunModel, run_training

__all__ = ["adapt", "AdaptConfig", "AdaptResult", "load_faces", "agreement"]


@dataclass
class AdaptResult:
    """What :func:`adapt` returns.

    Attributes:
        model: The adapted student (a Keras model taking 0-255 pixels).
        agreement: On the held-out faces: ``masked_before`` (the teacher on
            masked faces against its own unmasked answers), ``masked_after``
            (the student on the same masked faces), ``unmasked_after`` (the
            student on the unmasked faces) and ``n_heldout``.
        history: Keras' history (``accuracy``: agreement on the training
            faces as they were fed; ``val_accuracy``: on the held-out masked faces).
        metrics: The run's final metrics, agreement included.
        out_dir: The run folder, or ``None``.
        bundle_path: The student's bundle, or ``None``.
        interrupted: Ctrl-C stopped the run (the bundle holds the weights then).
        notes: Remarks about the run.
        config: The :class:`AdaptConfig` the run followed.
    """

    model: Any
    agreement: dict[str, float]
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    out_dir: Path | None = None
    bundle_path: Path | None = None
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    config: AdaptConfig | None = None


# ----------------------------------------------------------------------------- faces in
def load_faces(
    source: Any,
    *,
    image_size: tuple[int, int],
    color_mode: str = "grayscale",
    face_margin: float = 0.0,
    progress: bool = False,
) -> FERDataset:
    """Face crops from any face data, at one size and colour mode (labels are not needed).

    Args:
        source: A :class:`~fermask.FERDataset`, a FER2013-format CSV, a saved
            dataset folder, a folder of face crops or photos (searched
            recursively; faces are found in photos larger than 160 px and
            cropped with ``face_margin``), or an array of images.
        image_size: ``(height, width)`` of the crops.
        color_mode: ``"grayscale"`` or ``"rgb"``.
        face_margin: Border around detected faces, as a fraction of their size.
        progress: Show a progress bar while reading a folder.

    Raises:
        DataFormatError: The source holds no face, or is not face data.
    """
    if isinstance(source, FERDataset):
        ds = source
    elif isinstance(source, np.ndarray):
        arr = source if source.ndim in (3, 4) else None
        if arr is None:
            raise DataFormatError(f"face images must be an array (N, H, W) or (N, H, W, C), got shape {source.shape}")
        ds = FERDataset.from_arrays(arr, np.full(len(arr), -1, np.int64))
    else:
        ds = _faces_from_path(Path(source), image_size, color_mode, face_margin, progress)
    if len(ds) == 0:
        raise DataFormatError(f"no face was found in {source!r}")
    return _resized(ds, image_size, color_mode)


def _faces_from_path(path: Path, size: tuple[int, int], color_mode: str, margin: float, progress: bool) -> FERDataset:
    if not path.exists():
        raise DataFormatError(f"the face data '{path}' does not exist")
    if path.is_file() or (path / "dataset.json").is_file():  # a FER2013-format CSV or a saved dataset
        from .data.load import load_fer_data

        return load_fer_data(path, progress=progress)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataFormatError(f"'{path}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}) and no saved dataset")
    from tqdm.auto import tqdm

    from .faces import FaceAnalyzer

    finder = FaceAnalyzer(face_policy="auto")
    crops = []
    for f in tqdm(files, desc="faces", unit="img", disable=not progress):
        arr = load_image(f)
        for face in finder.find(arr):
            crop = crop_face(arr, face.box, margin) if face.detected else arr
            crops.append(_fit(crop, size, color_mode))
    images = np.stack(crops) if crops else np.zeros((0, *size), np.uint8)
    return FERDataset.from_arrays(images, np.full(len(images), -1, np.int64), source=f"faces in '{path}'")


def _fit(img: np.ndarray, size: tuple[int, int], color_mode: str) -> np.ndarray:
    return fit_image(img, size, color_mode)


def _resized(ds: FERDataset, size: tuple[int, int], color_mode: str) -> FERDataset:
    h, w, c = ds.image_shape
    if (h, w) == tuple(size) and color_mode_of(c) == color_mode:
        return ds
    images = np.stack([_fit(im, size, color_mode) for im in ds.images])
    return ds._replace(images=images)


# ----------------------------------------------------------------------------- measures
def agreement(model: Any, images: np.ndarray, answers: np.ndarray, *, batch_size: int = 64) -> float:
    """The share of ``images`` on which ``model``'s top class equals ``answers``."""
    if len(images) == 0:
        return float("nan")
    x = images.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    pred = np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).argmax(axis=1)
    return float((pred == np.asarray(answers)).mean())


class _EpochMasks:
    """The training faces of one epoch: a new seeded mask on each, a share left unmasked, half mirrored."""

    def __init__(
        self, images: np.ndarray, faces: Sequence[Any], masker: Any, seed: int, unmasked_share: float, flip: bool = True
    ) -> None:
        self.images, self.faces, self.masker = images, faces, masker
        self.seed, self.unmasked_share, self.flip = int(seed), float(unmasked_share), bool(flip)

    def __call__(self, epoch: int, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The faces ``indices`` (default: all) as epoch ``epoch`` shows them."""
        rng = np.random.default_rng([self.seed, epoch])
        n = len(self.images)
        keep = rng.random(n) < self.unmasked_share
        flip = rng.random(n) < 0.5 if self.flip else np.zeros(n, bool)
        idx = np.arange(n) if indices is None else np.asarray(indices)
        out = self.images[idx].copy()
        base = (epoch + 1) * n  # epoch e's masks differ from epoch e+1's and from the held-out faces' (0..N)
        for j, i in enumerate(idx):
            if keep[i]:
                continue
            out[j] = _masked(self.masker, self.images[i], self.faces[i], base + int(i))
        mirrored = flip[idx]
        out[mirrored] = out[mirrored][:, :, ::-1]  # mirror images: the same emotion, and the same teacher target
        return out


def _face_landmarks(masker: Any, images: np.ndarray) -> list[list[Any]]:
    return [masker.analyzer.find(img)[:1] for img in images]


def _masked(masker: Any, image: np.ndarray, faces: Sequence[Any], index: int) -> np.ndarray:
    """``image`` with mask draw ``index`` on its face, in the image's own layout (unchanged without a face)."""
    res = masker.mask_faces(image, faces, index=index) if faces else None
    if res is None or res.image is None:
        return image
    return res.image if res.image.ndim == image.ndim else to_gray(res.image)


def _masked_once(masker: Any, images: np.ndarray, faces: Sequence[Any], offset: int) -> np.ndarray:
    return np.stack([_masked(masker, img, f, offset + i) for i, (img, f) in enumerate(zip(images, faces))])


# ----------------------------------------------------------------------------- the run
@dataclass
class _Prepared:
    train: FERDataset
    val: FERDataset
    train_probs: np.ndarray
    train_faces: list[list[Any]]
    val_masked: np.ndarray


def _teacher(teacher: Any, labels: Sequence[str] | None) -> tuple[Any, BundleInfo, str]:
    """The teacher model, its bundle description (made up from ``labels`` for a bare Keras model) and its name."""
    tmodel, tinfo, desc = resolve_model(teacher, what="teacher")
    if tinfo is None:
        tinfo = BundleInfo.from_model(tmodel, labels)
    if tinfo.output != "softmax":
        raise FermaskError("adapt needs a teacher with one softmax output per class; this one is a sigmoid model")
    return tmodel, tinfo, desc


def _prepare(tmodel: Any, tinfo: BundleInfo, faces: Any, masker: Any, cfg: AdaptConfig, progress: bool) -> _Prepared:
    """The faces, the teacher's answers on them unmasked, the held-out share masked once, the training faces' landmarks."""
    from .evaluation import predict_scores

    ds = load_faces(faces, image_size=tinfo.image_size, color_mode=tinfo.color_mode, face_margin=tinfo.face_margin, progress=progress)
    if len(ds) < 4:
        raise DataFormatError(f"adapt needs at least 4 faces (some are held out), got {len(ds)}")
    try:
        probs = to_probabilities(predict_scores(tmodel, ds, batch_size=256), len(tinfo.labels), output="softmax")
    except DataFormatError as exc:
        raise DataFormatError(f"the teacher cannot teach: {exc}") from None
    ds = ds._replace(labels=probs.argmax(axis=1).astype(np.int64), label_names=tuple(tinfo.labels), soft_labels=None)
    order = np.random.default_rng(cfg.seed).permutation(len(ds))
    n_val = max(1, int(round(cfg.validation_fraction * len(ds))))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    train, val = ds.select(train_idx), ds.select(val_idx)
    val_faces = _face_landmarks(masker, val.images)
    return _Prepared(
        train, val, probs[train_idx].astype(np.float32), _face_landmarks(masker, train.images),
        _masked_once(masker, val.images, val_faces, 0),
    )


def _student_name(student: Any, teacher: Any) -> str:
    """The run's model name: ``<teacher>_adapted`` for a copy of the teacher, else the student's name."""
    if student is None:
        return f"{teacher.name}_adapted"
    if isinstance(student, str):
        return student
    if not hasattr(student, "fit"):
        raise FermaskError(f"student must be None (a copy of the teacher), a registered model name or a Keras model, got {type(student).__name__}")
    return str(getattr(student, "name", "student"))


def _student(student: Any, teacher: Any, info: BundleInfo) -> Any:
    """The network to train: a trainable copy of the teacher, a new registered model, or the model given."""
    if student is None:
        from .models import trainable_copy

        return trainable_copy(teacher)
    if isinstance(student, str):
        from .models import create_model

        return create_model(student, num_classes=len(info.labels), input_shape=info.input_shape)
    return student


def _pipeline(epoch_images: _EpochMasks, probs: np.ndarray, batch_size: int, seed: int, shape: tuple[int, int, int]) -> Any:
    """A tf.data pipeline whose every pass (one Keras epoch) is a new set of masked faces."""
    from ._tf import tf_module

    tf = tf_module()
    k = probs.shape[1]
    hard = np.eye(k, dtype=np.float32)[probs.argmax(axis=1)]
    counter = {"epoch": 0}

    def batches() -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        epoch = counter["epoch"]
        counter["epoch"] += 1
        order = np.random.default_rng([seed, epoch, 1]).permutation(len(probs))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]  # masked batch by batch, while the model trains on the one before
            x = epoch_images(epoch, idx).astype(np.float32).reshape(-1, *shape)
            yield x, {"label": hard[idx], "teacher": probs[idx]}

    spec = (
        tf.TensorSpec((None, *shape), tf.float32),
        {"label": tf.TensorSpec((None, k), tf.float32), "teacher": tf.TensorSpec((None, k), tf.float32)},
    )
    steps = -(-len(probs) // batch_size)
    # a known length makes Keras start a new pass, and so call batches() again, every epoch
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)


@dataclass
class _AdaptJob:
    """:func:`adapt`'s steps in the shared run sequence (:func:`fermask.training.run.run_training`)."""

    cfg: AdaptConfig
    teacher: Any
    info: BundleInfo
    desc: str
    faces: Any
    student: Any
    name: str
    masker: Any
    progress: bool
    prep: _Prepared | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def _prepared(self) -> _Prepared:
        assert self.prep is not None, "build() comes first"
        return self.prep

    def build(self, notes: list[str]) -> RunModel:
        """Read the faces, let the teacher answer, hold some out masked, and make the student."""
        self.prep = prep = _prepare(self.teacher, self.info, self.faces, self.masker, self.cfg, self.progress)
        net = _student(self.student, self.teacher, self.info)
        self.scores["masked_before"] = agreement(self.teacher, prep.val_masked, prep.val.labels)
        return RunModel(net, self.name, "softmax", prep.train, prep.val, teacher=self.desc)

    def inputs(self, model: RunModel) -> tuple[Any, Any]:
        """Training batches of newly masked faces each epoch, with the teacher's targets; the held-out faces masked once."""
        from ._tf import tf_module

        prep, cfg, shape = self._prepared(), self.cfg, self.info.input_shape
        epoch_images = _EpochMasks(prep.train.images, prep.train_faces, self.masker, cfg.seed, cfg.unmasked_share, cfg.flip)
        train_tf = _pipeline(epoch_images, prep.train_probs, cfg.batch_size, cfg.seed, shape)
        val_y = np.eye(len(self.info.labels), dtype=np.float32)[prep.val.labels]
        val_x = prep.val_masked.astype(np.float32).reshape(-1, *shape)
        return train_tf, tf_module().data.Dataset.from_tensor_slices((val_x, val_y)).batch(cfg.batch_size)

    def measure(self, model: RunModel, fitted: Fitted) -> Measured:
        """Agreement with the teacher on the held-out faces; the bundle keeps the teacher's face margin and the masking."""
        prep, cfg = self._prepared(), self.cfg
        self.scores["masked_after"] = agreement(model.net, prep.val_masked, prep.val.labels)
        self.scores["unmasked_after"] = agreement(model.net, prep.val.images, prep.val.labels)
        self.scores["n_heldout"] = float(len(prep.val))
        metrics = {"epochs_run": fitted.epochs_done, "fit_seconds": round(fitted.seconds, 2), "interrupted": fitted.interrupted,
                   **{f"agreement_{k}": v for k, v in self.scores.items()}}
        settings = {"unmasked_share": cfg.unmasked_share, "temperature": cfg.temperature, "flip": cfg.flip, "faces": prep.train.source}
        return Measured(
            metrics, bundle={"masking": self.masker.config(), "face_margin": self.info.face_margin},
            extra={"adapted_from": self.desc, "adapt": settings},
        )


def adapt(
    teacher: Any,
    faces: Any,
    config: AdaptConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    student: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    masker: Any = None,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> AdaptResult:
    """Teach a student to give a teacher's unmasked answers on masked faces.

    Like :func:`fermask.train`, it follows a config (:class:`AdaptConfig`)
    and takes any of its fields as a keyword override, so
    ``adapt(t, faces, epochs=20)`` and
    ``adapt(t, faces, AdaptConfig(epochs=20))`` are the same run.

    Args:
        teacher: A bundle folder, a pretrained model's name, a Predictor or a
            Keras model (softmax output); it sees the faces unmasked.
        faces: Face data, labels ignored (see :func:`load_faces`).
        config: An :class:`AdaptConfig`, its dict, or the path of its JSON;
            ``None`` uses the defaults.
        student: A registered model name (same as the ``student`` config
            field) or a Keras model taking 0-255 pixels; by default (and
            with ``config.student`` unset) a copy of the teacher, weights included.
        out_dir: The run folder (``config.json``, ``run.json``,
            ``history.json``, ``curves.png``, ``checkpoints/``, ``bundle/``),
            as :func:`fermask.train` writes it; ``None`` writes nothing.
        masker: A :class:`~fermask.Masker`; default: random built-in style,
            colour and pattern, seeded with the config's ``seed``.
        labels: Class names of a bare Keras teacher (a bundle knows its own;
            default: the seven FER2013 emotions for a 7-output model).
        overwrite: Replace a previous run's files in ``out_dir``.
        progress: Keras progress bars.
        callbacks: Extra Keras callbacks.
        **overrides: Any :class:`AdaptConfig` field, overriding ``config``:
            ``epochs``, ``batch_size``, ``learning_rate``, ``temperature``,
            ``unmasked_share``, ``validation_fraction``, ``seed``, ``flip``.

    Returns:
        An :class:`AdaptResult`; its ``agreement`` compares the student with
        the teacher on the held-out faces.

    Raises:
        FermaskError: A bad argument, or face data with too few faces.

    Examples:
        >>> import fermask
        >>> cfg = fermask.AdaptConfig(epochs=20, unmasked_share=0.25)
        >>> result = fermask.adapt("fer-mini-xception", "frames/", cfg, out_dir="runs/adapted")  # doctest: +SKIP
        >>> result = fermask.adapt("fer-mini-xception", "frames/", epochs=20, unmasked_share=0.25)  # doctest: +SKIP
        >>> result.config == cfg  # doctest: +SKIP
        True
    """
    from .masker import Masker

    cfg, student = resolve_adapt_config(config, student=student, overrides=overrides)
    masker = masker if masker is not None else Masker("random", color="random", pattern="random", seed=cfg.seed)
    tmodel, tinfo, desc = _teacher(teacher, labels)
    chosen = student if student is not None else cfg.student
    job = _AdaptJob(cfg, tmodel, tinfo, desc, faces, chosen, _student_name(chosen, tmodel), masker, progress)
    read = [x for x in (teacher, faces) if isinstance(x, (str, os.PathLike))]  # never replaced by the run
    run = run_training(cfg.train_config(job.name), job, out_dir=out_dir, overwrite=overwrite, progress=progress,
                       callbacks=callbacks, inputs=read)
    r = run.record
    return AdaptResult(r.net, job.scores, r.history, r.metrics, run.out_dir, run.bundle_path, r.interrupted, r.notes, cfg)
