"""What ``FERDataset.mask`` makes of :func:`~fermask.data.cache.mask_arrays`'s result (arrays in, arrays out).

Nothing here imports ``dataset.py``: the method passes its arrays and notes in and
builds the new dataset from what comes back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DataFormatError

__all__ = ["check_some_kept", "masked_changes"]


def masked_changes(
    arrays: Mapping[str, np.ndarray], info: Mapping[str, Any], on_no_face: str, *, notes: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """The fields a masked dataset replaces: images, styles, masking, and the counts in ``notes["masking"]``."""
    masked = arrays["masked"]
    not_masked = int((~masked).sum())
    summary = {
        "masked": int(masked.sum()),
        "not_masked": not_masked,
        "dropped": not_masked if on_no_face == "drop" else 0,
        "on_no_face": on_no_face,
        "reasons": dict(Counter(arrays["reasons"][~masked].tolist()).most_common(5)),
        "cache": info["cache"],
    }
    return {
        "images": arrays["images"],
        "styles": arrays["styles"],
        "masking": info["masking"],
        "notes": {**notes, "masking": summary},
        "source": f"{source} | masked",
    }


def check_some_kept(kept: int, n: int, summary: Mapping[str, Any]) -> None:
    """Refuse a ``mask(on_no_face='drop')`` that dropped all ``n`` images."""
    if kept == 0:
        raise DataFormatError(
            f"mask(on_no_face='drop') dropped every image: no face was masked in {n} images "
            f"(reasons: {summary['reasons']}). For face crops use face_policy='full_frame' or 'auto'"
        )
