"""Opening a reader's text file, plain or gzip-compressed, where a damaged file is a DataFormatError."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import IO, Any

from ...errors import DataFormatError

__all__ = ["open_text"]


class _CheckedGzip(io.RawIOBase):
    """A gzip file's decompressed bytes, where a cut-off, damaged or plain file is a DataFormatError.

    gzip reports those as ``EOFError``, ``BadGzipFile`` or ``zlib.error``
    from deep inside a read; here they name the file and say what to do.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._gz = gzip.open(path, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._gz.readinto(buffer)
        except EOFError:
            raise DataFormatError(
                f"'{self.path}' is cut off: the compressed data ends early (an interrupted download or copy?); "
                "download it again"
            ) from None
        except gzip.BadGzipFile as exc:
            if "not a gzipped file" in str(exc).lower():
                raise DataFormatError(
                    f"'{self.path}' is not gzip-compressed although its name ends in .gz; "
                    "decompress it first if it is another archive, or rename it without .gz if it is a plain CSV"
                ) from None
            raise self._damaged(exc) from None
        except zlib.error as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> DataFormatError:
        return DataFormatError(f"'{self.path}' is damaged: the compressed data is corrupt ({exc}); download it again")

    def close(self) -> None:
        self._gz.close()
        super().close()


def open_text(path: Path) -> IO[str]:
    """A reader's file as text: a plain file as UTF-8 (a BOM skipped), a ``.gz`` file decompressed as it is read."""
    if not path.exists():
        raise DataFormatError(f"'{path}': no such file")
    if path.is_dir():
        raise DataFormatError(f"'{path}' is a folder; expected a CSV file (use FERDataset.from_folder for folders)")
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(io.BufferedReader(_CheckedGzip(path)), encoding="utf-8", newline="")
    return open(path, encoding="utf-8-sig", newline="")
