"""A folder run's manifest (``OUTDIR/manifest.jsonl``): its name, reading it, what it says is done, appending to it.

The lines themselves are described in :mod:`fermask.batch`.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
from pathlib import Path
from typing import Any

from .._files import json_line, open_append, read_json_lines, sha256_hex
from ._inputs import real_path
from ._outputs import refuse_link, unwritable

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "config_hash",
    "file_stamp",
    "is_done",
    "previous_state",
    "read_manifest",
    "utc_now",
    "written_by_fermask",
]

MANIFEST_NAME = "manifest.jsonl"
"""File name of the manifest inside the output folder."""


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-ready configuration (the first 16 hex digits of its sha256)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return sha256_hex(blob)[:16]


def read_manifest(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int]:
    """Read a manifest, tolerating cut-off lines.

    A line cut off by a crash is skipped; a whole record that an older
    version appended right after it, on the same line, is kept.

    Args:
        path: The ``manifest.jsonl`` file.

    Returns:
        The records (dicts, in file order) and the number of lines that
        could not be parsed, whole or in part (a run killed mid-write leaves
        at most one).
    """
    values, bad = read_json_lines(path)
    records = [v for v in values if isinstance(v, dict)]
    return records, len(bad) + len(values) - len(records)


def file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def written_by_fermask(records: list[dict[str, Any]], outdir: Path) -> set[Path]:
    """The files in ``outdir`` that some run recorded as its output (whatever its configuration)."""
    return {
        real_path(outdir / rec["output"])
        for rec in records
        if rec.get("type") == "item" and isinstance(rec.get("output"), str)
    }


def previous_state(records: list[dict[str, Any]]) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The hash of the last run and, per input, its latest item record under that hash."""
    last_hash: str | None = None
    run_hash: str | None = None
    items: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for rec in records:
        kind = rec.get("type")
        if kind == "run":
            run_hash = rec.get("config_hash")
            last_hash = run_hash
        elif kind == "item" and isinstance(rec.get("input"), str):
            items[rec["input"]] = (run_hash, rec)
    latest = {k: rec for k, (h, rec) in items.items() if h == last_hash}
    return last_hash, latest


def is_done(rec: dict[str, Any], src: Path, outdir: Path) -> bool:
    stamp = file_stamp(src)
    if stamp is None or [rec.get("input_bytes"), rec.get("input_mtime_ns")] != list(stamp):
        return False
    status = rec.get("status")
    if status == "no_face":
        return True
    if status == "masked" and isinstance(rec.get("output"), str):
        return (outdir / rec["output"]).is_file()
    return False


class Manifest:
    """The manifest, open for appending one flushed line per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:  # a cut-off last line gets its newline here (the plan warned about it)
            self._f, _ = open_append(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refuse_link(path, "its manifest") from None
            raise unwritable(path.parent, exc) from None

    def write(self, rec: dict[str, Any], *, flush: bool = True) -> None:
        self._f.write((json_line(rec, default=str) + "\n").encode("utf-8"))
        if flush:
            self._f.flush()

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def utc_now() -> str:
    """The time now, in UTC to the second, as manifest lines record it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
