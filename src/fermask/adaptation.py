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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ._choices import color_mode_of
from ._image import IMAGE_SUFFIXES, crop_face, load_image, to_gray, to_rgb
from .bundle import BundleInfo, resolve_model, to_probabilities
from .data.dataset import FERDataset
from .errors import DataFormatError, FermaskError

__all__ = ["adapt", "AdaptResult", "load_faces", "agreement"]


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
    """

    model: Any
    agreement: dict[str, float]
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    out_dir: Path | None = None
    bundle_path: Path | None = None
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)


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
    arr = to_gray(img) if color_mode == "grayscale" else to_rgb(img)
    if arr.shape[:2] != size:
        arr = np.asarray(Image.fromarray(arr).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return arr


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
    teacher: Any
    info: BundleInfo
    desc: str
    train: FERDataset
    val: FERDataset
    train_probs: np.ndarray
    val_probs: np.ndarray
    train_faces: list[list[Any]]
    val_masked: np.ndarray


def _prepare(
    teacher: Any, faces: Any, masker: Any, validation_fraction: float, seed: int, progress: bool, labels: Sequence[str] | None
) -> _Prepared:
    from .evaluation import predict_scores

    tmodel, tinfo, desc = resolve_model(teacher, what="teacher")
    if tinfo is None:
        tinfo = BundleInfo.from_model(tmodel, labels)
    if tinfo.output != "softmax":
        raise FermaskError("adapt needs a teacher with one softmax output per class; this one is a sigmoid model")
    size = tinfo.image_size
    ds = load_faces(faces, image_size=size, color_mode=tinfo.color_mode, face_margin=tinfo.face_margin, progress=progress)
    if len(ds) < 4:
        raise DataFormatError(f"adapt needs at least 4 faces (some are held out), got {len(ds)}")
    probs = to_probabilities(predict_scores(tmodel, ds, batch_size=256), len(tinfo.labels), output="softmax")
    ds = ds._replace(labels=probs.argmax(axis=1).astype(np.int64), label_names=tuple(tinfo.labels), soft_labels=None)
    order = np.random.default_rng(seed).permutation(len(ds))
    n_val = max(1, int(round(validation_fraction * len(ds))))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    train, val = ds.select(train_idx), ds.select(val_idx)
    val_faces = _face_landmarks(masker, val.images)
    return _Prepared(
        tmodel, tinfo, desc, train, val, probs[train_idx].astype(np.float32), probs[val_idx].astype(np.float32),
        _face_landmarks(masker, train.images), _masked_once(masker, val.images, val_faces, 0),
    )


def _student(student: Any, teacher: Any, info: BundleInfo) -> tuple[Any, str]:
    if student is None:
        from .models import trainable_copy

        return trainable_copy(teacher), f"{teacher.name}_adapted"
    if isinstance(student, str):
        from .models import create_model

        return create_model(student, num_classes=len(info.labels), input_shape=info.input_shape), student
    if not hasattr(student, "fit"):
        raise FermaskError(f"student must be None (a copy of the teacher), a registered model name or a Keras model, got {type(student).__name__}")
    return student, getattr(student, "name", "student")


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


def adapt(
    teacher: Any,
    faces: Any,
    *,
    student: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 3e-4,
    temperature: float = 2.0,
    unmasked_share: float = 0.5,
    validation_fraction: float = 0.1,
    masker: Any = None,
    seed: int = 0,
    labels: Sequence[str] | None = None,
    flip: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
) -> AdaptResult:
    """Teach a student to give a teacher's unmasked answers on masked faces.

    Args:
        teacher: A bundle folder, a pretrained model's name, a Predictor or a
            Keras model (softmax output); it sees the faces unmasked.
        faces: Face data, labels ignored (see :func:`load_faces`).
        student: ``None`` (a copy of the teacher, weights included), a
            registered model name, or a Keras model taking 0-255 pixels.
        out_dir: The run folder (``config.json``, ``run.json``,
            ``history.json``, ``curves.png``, ``checkpoints/``, ``bundle/``),
            as :func:`fermask.train` writes it; ``None`` writes nothing.
        epochs: Passes over the faces; each pass draws new masks.
        batch_size: Faces per step.
        learning_rate: Adam's learning rate (small: the student starts from
            the teacher's weights).
        temperature: Softens the teacher's and the student's probabilities
            in the loss (``T^2 * KL``).
        unmasked_share: Share of training faces left unmasked in each epoch.
        validation_fraction: Share of faces held out to measure agreement.
        masker: A :class:`~fermask.Masker`; default: random built-in style,
            colour and pattern, seeded with ``seed``.
        seed: Seeds the split, the masks, the order and Keras.
        flip: Mirror a random half of the training faces in each epoch.
        labels: Class names of a bare Keras teacher (a bundle knows its own;
            default: the seven FER2013 emotions for a 7-output model).
        overwrite: Replace a previous run's files in ``out_dir``.
        progress: Keras progress bars.
        callbacks: Extra Keras callbacks.

    Returns:
        An :class:`AdaptResult`; its ``agreement`` compares the student with
        the teacher on the held-out faces.

    Raises:
        FermaskError: A bad argument, or face data with too few faces.
    """
    from ._tf import keras_module, tf_module
    from .masker import Masker
    from .training.config import TrainConfig
    from .training.distill import make_distiller
    from .training.fitting import fit
    from .training.modeling import compile_model
    from .training.run_files import data_info, epoch_recorder, prepare_out_dir, versions, write_run_end, write_run_start

    if not 0.0 <= unmasked_share < 1.0:
        raise FermaskError(f"unmasked_share must lie in [0, 1), got {unmasked_share}")
    if not 0.0 < validation_fraction < 1.0:
        raise FermaskError(f"validation_fraction must lie between 0 and 1, got {validation_fraction}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise FermaskError(f"epochs and batch_size must be 1 or more, got {epochs} and {batch_size}")
    masker = masker if masker is not None else Masker("random", color="random", pattern="random", seed=seed)
    keras, tf = keras_module(), tf_module()
    keras.utils.set_random_seed(int(seed))
    prep = _prepare(teacher, faces, masker, validation_fraction, seed, progress, labels)
    net, name = _student(student, prep.teacher, prep.info)
    cfg = TrainConfig(model=name, learning_rate=learning_rate, batch_size=batch_size, epochs=epochs, seed=seed,
                      distill_alpha=0.0, distill_temperature=temperature, validation_fraction=validation_fraction)
    out = prepare_out_dir(out_dir, overwrite) if out_dir is not None else None
    fit_model = make_distiller(keras, net, "softmax", cfg)
    compile_model(keras, fit_model, "softmax", cfg, len(prep.train), distilling=True)
    shape = prep.info.input_shape
    train_tf = _pipeline(_EpochMasks(prep.train.images, prep.train_faces, masker, seed, unmasked_share, flip),
                         prep.train_probs, batch_size, seed, shape)
    val_y = np.eye(len(prep.info.labels), dtype=np.float32)[prep.val.labels]
    val_tf = tf.data.Dataset.from_tensor_slices((prep.val_masked.astype(np.float32).reshape(-1, *shape), val_y)).batch(batch_size)
    before = agreement(prep.teacher, prep.val_masked, prep.val.labels)
    recorder = epoch_recorder(out, net)
    desc = data_info(prep.train, prep.val, prep.desc)
    run_versions = versions(keras, tf)
    if out is not None:
        write_run_start(out, cfg, desc, run_versions, name)
    notes: list[str] = []
    interrupted, seconds = fit(fit_model, train_tf, val_tf, cfg, [recorder, *callbacks], recorder, progress, notes)
    scores = {
        "masked_before": before,
        "masked_after": agreement(net, prep.val_masked, prep.val.labels),
        "unmasked_after": agreement(net, prep.val.images, prep.val.labels),
        "n_heldout": float(len(prep.val)),
    }
    metrics = {"epochs_run": recorder.epochs_done, "fit_seconds": round(seconds, 2), "interrupted": interrupted,
               **{f"agreement_{k}": v for k, v in scores.items()}}
    bundle = None
    if out is not None:
        extra = {"adapted_from": prep.desc, "adapt": {"unmasked_share": unmasked_share, "temperature": temperature, "flip": flip,
                                                      "faces": prep.train.source}}
        bundle = write_run_end(
            out, net, model_name=name, cfg=cfg, train_ds=prep.train, masking=masker.config(), data=desc,
            versions=run_versions, history=recorder.history, metrics=metrics, report=None, interrupted=interrupted,
            notes=notes, info_fields={"labels": list(prep.info.labels), "face_margin": prep.info.face_margin}, extra=extra,
        )
    return AdaptResult(net, scores, recorder.history, metrics, out, bundle, interrupted, notes)
