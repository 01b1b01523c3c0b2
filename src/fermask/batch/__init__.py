"""Mask whole folders of images on disk, with a manifest and resumable runs.

This is the engine behind ``fermask mask``; it is usable from Python too.

Inputs are files and folders (searched recursively for ``.jpg``, ``.jpeg``,
``.png``, ``.bmp`` and ``.webp`` files, any case). Masked images are written
under an output folder that mirrors the inputs' relative paths; inputs are
never overwritten. Every input gets one line in ``OUTDIR/manifest.jsonl``:

* ``{"type": "run", ...}`` starts each run: time, fermask version, the
  masker's configuration and its hash, the output format.
* ``{"type": "item", "input", "output", "status", "faces", "styles", ...}``
  per input; ``status`` is ``"masked"``, ``"no_face"`` or ``"error"`` and
  ``reason`` says why an input was not masked. ``output`` is relative to
  ``OUTDIR`` (``null`` when nothing was written); ``note`` flags an animated
  image, of which only the first frame was masked.
* ``{"type": "summary", ...}`` ends a run (``"interrupted": true`` when it
  was stopped).

The workers (processes, or any executor's) read, mask and encode the
images; this process writes the files and the manifest. Lines are appended
and flushed in small groups (every 64 images or half a second), and each
image is written to a temporary file first and renamed only after its line
is flushed, so a run that is killed never leaves a half-written image
counted as done, nor a file the manifest does not name. A line cut off by a crash is
skipped when read, and the next line written starts on a fresh line. File
names that are not valid UTF-8 are recorded with ``\\u`` escapes that read back
to the same name.

A run holds a lock on ``OUTDIR`` (``OUTDIR/.fermask.lock``) until it ends, so
a second run into the same folder is refused at once. Files in ``OUTDIR`` that
fermask did not write (no manifest line names them) are never replaced: the
output takes the next free name (``a-2.png``). A rerun with the same
configuration skips inputs that are done (``masked`` with the output still on
disk, or ``no_face``) and unchanged (same size and modification time); inputs
that failed are tried again. A rerun with a different configuration is
refused unless ``force=True``. Random choices are seeded by each input's
position among all the inputs, so a resumed run writes the same bytes as an
uninterrupted one, whatever ``workers`` or ``executor``.

The package is one job per module: ``_inputs`` (the image files that the
inputs name), ``_manifest`` (reading the manifest, appending to it),
``_lock`` (the output folder's lock), ``_outputs`` (output names, images
written under a temporary name first), ``_plan`` (the checked arguments and
what is left to do), ``_run`` (writing the results and counting them,
:func:`mask_folder`) and ``_encode`` (the workers' half). This module keeps
the manifest's description above and the public names.

Examples:
    >>> from fermask import Masker
    >>> from fermask.batch import mask_folder
    >>> summary = mask_folder(["photos/"], "masked/", Masker("surgical"))  # doctest: +SKIP
    >>> print(summary.line())  # doctest: +SKIP
    12 masked, 1 no face, 0 errors -> masked
"""

from __future__ import annotations

from .._choices import OutputFormat  # importable from here as before (the type of output_format)
from ._inputs import InputFile, collect_inputs
from ._lock import LOCK_NAME  # importable from here as before
from ._manifest import MANIFEST_NAME, config_hash, read_manifest
from ._run import BatchSummary, mask_folder

__all__ = [
    "MANIFEST_NAME",
    "BatchSummary",
    "InputFile",
    "collect_inputs",
    "mask_folder",
    "read_manifest",
    "config_hash",
]
