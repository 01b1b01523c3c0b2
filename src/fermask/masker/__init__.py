"""The Masker: puts masks on the faces in images.

The package is one job per module: ``_result`` (``MaskResult``, the
outcome of one image), ``_stages`` (a batch read, searched for faces and
masked a group at a time) and ``_masker`` (``Masker``). This module
keeps the public names.

Examples:
    >>> from fermask import Masker
    >>> masker = Masker(style="surgical", color="white", seed=0)
    >>> result = masker("photo.jpg")  # doctest: +SKIP
    >>> result.masked, result.styles  # doctest: +SKIP
    (True, ['surgical'])
"""

from __future__ import annotations

from ._masker import Masker, StyleChoice, warm_quietly
from ._result import MaskResult
from ._stages import STAGE_BYTES, STAGE_IMAGES

# Besides __all__, StyleChoice, warm_quietly, STAGE_IMAGES and STAGE_BYTES are importable
# from here, as they were before the split.

__all__ = ["Masker", "MaskResult"]
