"""FER+ votes (``fer2013new.csv``): ten vote counts per FER2013 row, read strictly.

Relabelling a dataset with them is :mod:`fermask.data.ferplus`'s job; this
module only reads the file into arrays.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from ...errors import DataFormatError
from ._text import open_text

__all__ = ["FERPLUS_COLUMNS", "MAX_VOTES", "read_ferplus_votes"]

FERPLUS_COLUMNS = (
    "usage",
    "image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "nf",
)
"""FER+ columns (compared stripped and lower-case), in file order."""

MAX_VOTES = 1000
"""The largest FER+ vote count accepted in one cell.

FER+ asked ten taggers per image, so real counts are 0-10; the bound leaves
room for relabelling efforts with larger crowds while refusing values that
are clearly not counts (and would overflow the int32 vote array).
"""

_WHOLE = re.compile(r"[0-9]+")


def _parse_vote(text: str, path: Path, line: int, column: int) -> int:
    """One FER+ vote cell as a count 0..MAX_VOTES; anything else names the file, line and column."""
    where = f"'{path}', line {line}, column {column} ({FERPLUS_COLUMNS[column - 1]})"
    raw = text.strip()
    if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
        raise DataFormatError(f"{where}: the vote count {raw!r} is negative; votes count taggers, 0 or more")
    if not _WHOLE.fullmatch(raw):
        raise DataFormatError(f"{where}: the vote count {raw[:30]!r} is not a whole number; expected 0-{MAX_VOTES:,}")
    if len(raw.lstrip("0")) > len(str(MAX_VOTES)) or int(raw) > MAX_VOTES:
        raise DataFormatError(
            f"{where}: the vote count {raw[:40]} is too large; FER+ counts votes of 10 taggers, "
            f"so a count must be at most {MAX_VOTES:,}. Fix the row or download fer2013new.csv again"
        )
    return int(raw)


def read_ferplus_votes(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read FER+ votes (``fer2013new.csv``).

    Returns:
        ``(votes, usage, named)``: ``(N, 10)`` int32 votes in the file's order
        (neutral, happiness, surprise, sadness, anger, disgust, fear,
        contempt, unknown, NF), the Usage column, and a bool array that is
        ``False`` where the image name is blank (a row FER+ dropped).

    Raises:
        DataFormatError: Wrong columns, a vote that is not a whole number from
            0 to :data:`MAX_VOTES`, or a file that is not readable text; the
            message names the file, line and column.
    """
    p = Path(path)
    votes: list[list[int]] = []
    usage: list[str] = []
    named: list[bool] = []
    with open_text(p) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise DataFormatError(f"'{p}' is empty; expected FER+ votes (fer2013new.csv)")
            names = [c.strip().lower() for c in header]
            if tuple(names) != FERPLUS_COLUMNS:
                raise DataFormatError(
                    f"'{p}': unknown columns {header!r}; expected FER+ columns "
                    "'Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF'"
                )
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != len(FERPLUS_COLUMNS):
                    raise DataFormatError(f"'{p}', line {line}: {len(row)} fields, expected {len(FERPLUS_COLUMNS)}")
                votes.append([_parse_vote(x, p, line, c) for c, x in enumerate(row[2:], start=3)])
                usage.append(row[0].strip())
                named.append(bool(row[1].strip()))
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"'{p}', line {reader.line_num + 1}: not UTF-8 text ({exc})") from None
        except csv.Error as exc:
            raise DataFormatError(f"'{p}', line {reader.line_num}: unreadable CSV ({exc})") from None
    if not votes:
        raise DataFormatError(f"'{p}' has a header but no rows")
    return (
        np.asarray(votes, dtype=np.int32),
        np.asarray(usage, dtype="<U11"),
        np.asarray(named, dtype=bool),
    )
