"""Running TFLite models: LiteRT when installed, else TensorFlow's interpreter, and nothing else.

This is the one module that knows about TFLite interpreters. It imports
numpy and fermask's errors only; TensorFlow is imported here only when
LiteRT (``ai-edge-litert``, installed by ``pip install 'fermask[lite]'``)
is missing, so a TFLite bundle runs without TensorFlow or Keras.

:class:`TFLiteModel` wraps one model with one image input and one
``(n, k)`` output: it takes a float32 batch in the model's pixel scale,
resizes the batch dimension as needed, quantizes an int8 input and
dequantizes an int8 output, and returns float32 scores.

Examples:
    >>> runtime_name() in ("litert", "tensorflow")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError, MissingDependencyError

__all__ = [
    "TFLiteModel", "TFLiteGraph", "runtime_name", "tensorflow_installed", "import_tensorflow", "TFLITE_MAGIC",
]

#: The flatbuffer file identifier every ``.tflite`` model carries at bytes 4-8.
TFLITE_MAGIC = b"TFL3"

#: The start-up notices TensorFlow's C++ code writes to stderr on import, before its logging is set up, so
#: that ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them: absl's "All log messages before absl::InitializeLog()"
#: warning and oneDNN's "custom operations are on" notice (twice each with TensorFlow 2.21).
TF_IMPORT_NOTICES = ("All log messages before absl::InitializeLog() is called", "oneDNN custom operations are on")

#: The line the TFLite runtime (LiteRT or TensorFlow's interpreter) writes to stderr when it makes its first
#: interpreter: "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
INTERPRETER_NOTICES = ("Created TensorFlow Lite XNNPACK delegate",)

#: The line TensorFlow's TFLite converter writes to stderr for every quantized conversion (``fully_quantize: 0,
#: inference_type: 6, ...``), which says nothing the export's own summary does not.
CONVERTER_NOTICES = ("fully_quantize:",)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as missing
        return False


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (checked without importing it)."""
    return _installed("tensorflow")


def runtime_name() -> str:
    """Which interpreter runs TFLite models here: ``"litert"`` or ``"tensorflow"``.

    Raises:
        MissingDependencyError: Neither LiteRT nor TensorFlow is installed.
    """
    if _installed("ai_edge_litert"):
        return "litert"
    if tensorflow_installed():
        return "tensorflow"
    raise MissingDependencyError(
        "running a TFLite model needs LiteRT (or TensorFlow), and neither is installed. "
        "Install LiteRT with: pip install 'fermask[lite]'"
    )


def import_tensorflow() -> Any:
    """Import and return ``tensorflow`` without its start-up notices on stderr.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless you set it, and, the first time,
    catches what the import writes to the stderr file descriptor: the lines in
    :data:`TF_IMPORT_NOTICES` are dropped, anything else is written back to
    stderr as it came. ``FERMASK_TF_NOTICES=1`` keeps every line. When
    TensorFlow was imported before, it is returned as it is.

    Raises:
        ImportError: TensorFlow cannot be imported (callers turn it into fermask's error).
    """
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("FERMASK_TF_NOTICES") == "1":
        import tensorflow as tf

        return tf
    with filtered_stderr(TF_IMPORT_NOTICES):
        import tensorflow as tf
    return tf


@contextlib.contextmanager
def filtered_stderr(notices: tuple[str, ...]) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file, then write back the lines that hold none of ``notices``."""
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (closed, or not a file descriptor): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as caught:
        try:
            os.dup2(caught.fileno(), 2)
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True)
                    if not any(n.encode() in line for n in notices)]
            if kept:
                os.write(2, b"".join(kept))


def _interpreter_class() -> Any:
    if runtime_name() == "litert":
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    return import_tensorflow().lite.Interpreter


def _load_interpreter(content: bytes, name: str, num_threads: int | None, fix: str) -> Any:
    """An allocated interpreter for a model's bytes, with fermask's errors for files that are not TFLite models."""
    if len(content) < 8 or content[4:8] != TFLITE_MAGIC:
        raise DataFormatError(
            f"{name} is not a TFLite model (a .tflite file has 'TFL3' at bytes 4-8; got "
            f"{content[4:8]!r} in {len(content)} bytes); {fix}"
        )
    interpreter_class = _interpreter_class()
    try:
        with warnings.catch_warnings(), filtered_stderr(INTERPRETER_NOTICES):
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interp = interpreter_class(model_content=content, num_threads=num_threads)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataFormatError(f"{name} is a damaged or truncated TFLite model ({first}); {fix}") from None
    return interp


def _read_model(path_or_bytes: str | os.PathLike[str] | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), name or "<tflite bytes>"
    path = Path(path_or_bytes)
    shown = name or f"'{path}'"
    try:
        return path.read_bytes(), shown
    except OSError as exc:
        raise DataFormatError(f"cannot read the TFLite model {shown}: {exc}") from None


class TFLiteGraph:
    """A TFLite model with one float32 input and any number of outputs, run one input at a time.

    :class:`TFLiteModel` is the classifier-shaped case; this is for models
    such as a face detector, whose outputs are raw tensors the caller decodes.

    Args:
        path_or_bytes: A ``.tflite`` file or the model's bytes.
        num_threads: Threads the interpreter may use (``None``: its default).
        name: What to call the model in messages (default: the file name).
        fix: What to tell the user when the file is not a usable model.
        input_shape: Resize the input to this shape (for fully convolutional models).

    Raises:
        MissingDependencyError: Neither LiteRT nor TensorFlow is installed.
        DataFormatError: The file is not a TFLite model, its input is not one
            float32 tensor, or it cannot take ``input_shape``.
    """

    def __init__(self, path_or_bytes: str | os.PathLike[str] | bytes, *, num_threads: int | None = None,
                 name: str | None = None, fix: str = "fetch the file again",
                 input_shape: tuple[int, ...] | None = None) -> None:
        content, self.name = _read_model(path_or_bytes, name)
        self._interp = _load_interpreter(content, self.name, num_threads, fix)
        ins = self._interp.get_input_details()
        #: The input's shape as the file defines it (before any ``input_shape`` resize).
        self.model_input_shape = tuple(int(v) for v in ins[0]["shape"]) if len(ins) == 1 else ()
        if input_shape is not None and len(ins) == 1 and self.model_input_shape != tuple(input_shape):
            try:
                self._interp.resize_tensor_input(ins[0]["index"], list(input_shape), strict=False)
                self._interp.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise DataFormatError(f"{self.name} cannot take an input of shape {tuple(input_shape)} ({exc})") from None
            ins = self._interp.get_input_details()
        if len(ins) != 1 or np.dtype(ins[0]["dtype"]) != np.float32:
            raise DataFormatError(f"{self.name} does not take one float32 input; {fix}")
        self._in = ins[0]
        self._outs = sorted(self._interp.get_output_details(), key=lambda d: int(d["index"]))
        self.size_bytes = len(content)
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input tensor's shape, batch dimension included."""
        return tuple(int(v) for v in self._in["shape"])

    def __call__(self, x: Any) -> list[np.ndarray]:
        """Run one input of :attr:`input_shape`; the outputs, in the model's output order, as float32 arrays.

        Raises:
            DataFormatError: ``x`` does not have the input's shape.
        """
        arr = np.ascontiguousarray(x, dtype=np.float32)
        if tuple(arr.shape) != self.input_shape:
            raise DataFormatError(f"{self.name} takes an input of shape {self.input_shape}, got {arr.shape}")
        with self._lock:
            self._interp.set_tensor(self._in["index"], arr)
            self._interp.invoke()
            return [np.array(self._interp.get_tensor(d["index"]), dtype=np.float32) for d in self._outs]


class TFLiteModel:
    """A TFLite image model, callable on float32 batches.

    Args:
        path_or_bytes: A ``.tflite`` file or the model's bytes.
        num_threads: Threads the interpreter may use (``None``: its default).
        name: What to call the model in messages (default: the file name).

    Raises:
        MissingDependencyError: Neither LiteRT nor TensorFlow is installed.
        DataFormatError: The file is not a TFLite model (tampered, truncated
            or another format), or not one with one 4-D image input and one
            ``(n, k)`` output.

    Examples:
        >>> model = TFLiteModel("bundle/model.tflite")  # doctest: +SKIP
        >>> model.input_shape, model.num_outputs  # doctest: +SKIP
        ((64, 64, 1), 7)
    """

    def __init__(self, path_or_bytes: str | os.PathLike[str] | bytes, *, num_threads: int | None = None,
                 name: str | None = None) -> None:
        content, self.name = _read_model(path_or_bytes, name)
        fix = "export or download the model again (fermask export, fermask download-model --force)"
        self._interp = _load_interpreter(content, self.name, num_threads, fix)
        self.size_bytes = len(content)
        self._lock = threading.Lock()
        self._in, self._out = self._single_io()
        self._batch = int(self._in["shape"][0])
        self._one_at_a_time = False

    def _single_io(self) -> tuple[dict[str, Any], dict[str, Any]]:
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(ins) != 1 or len(outs) != 1:
            raise DataFormatError(
                f"{self.name} has {len(ins)} input(s) and {len(outs)} output(s); fermask runs models with "
                "one image input and one score output"
            )
        shape, out_shape = tuple(int(v) for v in ins[0]["shape"]), tuple(int(v) for v in outs[0]["shape"])
        if len(shape) != 4 or shape[3] not in (1, 3) or min(shape[1:]) < 1 or len(out_shape) != 2:
            raise DataFormatError(
                f"{self.name} takes input {shape} and gives output {out_shape}; fermask runs models taking "
                "(batch, height, width, 1 or 3) images and giving (batch, scores)"
            )
        return ins[0], outs[0]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one input image."""
        _, h, w, c = (int(v) for v in self._in["shape"])
        return h, w, c

    @property
    def num_outputs(self) -> int:
        """Scores per image (``k`` of the ``(n, k)`` output)."""
        return int(self._out["shape"][-1])

    @property
    def input_dtype(self) -> np.dtype[Any]:
        """The input tensor's dtype (float32, or int8/uint8 for a fully quantized model)."""
        return np.dtype(self._in["dtype"])

    @property
    def quantized(self) -> bool:
        """Whether the input is quantized (int8/uint8); such inputs are quantized by :meth:`__call__`."""
        return self.input_dtype.kind in "iu"

    def __repr__(self) -> str:
        return (f"TFLiteModel({self.name}, input_shape={self.input_shape}, num_outputs={self.num_outputs}, "
                f"input_dtype={self.input_dtype.name})")

    def __call__(self, batch: Any) -> np.ndarray:
        """Scores of a float32 batch ``(n, h, w, c)`` in the model's pixel scale, as float32 ``(n, k)``.

        Raises:
            DataFormatError: The batch does not have the model's image shape.
        """
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise DataFormatError(f"{self.name} takes batches of shape (n, {self.input_shape}), got {x.shape}")
        if len(x) == 0:
            return np.zeros((0, self.num_outputs), np.float32)
        with self._lock:
            if self._one_at_a_time:
                return np.concatenate([self._run(x[i : i + 1]) for i in range(len(x))])
            if len(x) != self._batch and not self._resize(len(x)):
                return np.concatenate([self._run(x[i : i + 1]) for i in range(len(x))])
            return self._run(x)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> np.ndarray:
        """Keras-style prediction (``model.predict(x, verbose=0)``): :meth:`__call__` in batches of ``batch_size``."""
        x = np.asarray(x, dtype=np.float32)
        step = max(1, int(batch_size or 64))
        parts = [self(x[i : i + step]) for i in range(0, len(x), step)]
        return np.concatenate(parts) if parts else np.zeros((0, self.num_outputs), np.float32)

    def _resize(self, n: int) -> bool:
        """Give the input a batch dimension of ``n``; ``False`` (and one image per call from now on) if it cannot."""
        try:
            self._interp.resize_tensor_input(self._in["index"], [n, *self.input_shape], strict=False)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError):
            self._interp.resize_tensor_input(self._in["index"], [1, *self.input_shape], strict=False)
            self._interp.allocate_tensors()
            self._batch, self._one_at_a_time = 1, True
            return False
        self._batch = n
        return True

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self._interp.resize_tensor_input(self._in["index"], [len(x), *self.input_shape], strict=False)
            self._interp.allocate_tensors()
            self._batch = len(x)
        self._interp.set_tensor(self._in["index"], self._quantize(x))
        self._interp.invoke()
        y = np.array(self._interp.get_tensor(self._out["index"]))
        return self._dequantize(y).reshape(len(x), -1)

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return np.ascontiguousarray(x, dtype=self.input_dtype)
        scale, zero = self._in["quantization"]
        info = np.iinfo(self.input_dtype)
        q = np.round(x / (scale or 1.0) + zero)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if y.dtype.kind in "iu":
            scale, zero = self._out["quantization"]
            return ((y.astype(np.float32) - zero) * (scale or 1.0)).astype(np.float32)
        return y.astype(np.float32, copy=False)
