"""Files shipped with fermask, so examples, the demo and the docs run offline.

``astronaut.jpg`` is a 512x512 colour portrait of astronaut Eileen Collins,
a public-domain NASA photograph (NASA image GPN-2000-001177) as distributed
with scikit-image (``skimage.data.astronaut()``), saved as JPEG. It holds one
frontal face, which fermask's default detector finds, so ``fermask demo``,
the examples and the figures in these docs use it.

``mask_presence.tflite`` is the mask-presence classifier
(:class:`fermask.faces.MaskPresence`), built by
``recipes/build_mask_presence.py`` from licence-clean faces (CC BY 4.0 and
CC0); ``mask_presence.json`` beside it says how, on which files (with their
sha256), with which citations, and how well it measured.

Examples:
    >>> from fermask.assets import example_photo
    >>> from PIL import Image
    >>> Image.open(example_photo()).size
    (512, 512)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_photo"]


def example_photo() -> Path:
    """Path of the packaged example portrait (public-domain NASA photo, 512x512 RGB JPEG).

    The file lives inside the installed package; open it, never write to it.
    Anything that takes an image accepts the path as it is.

    Returns:
        The path of ``astronaut.jpg``.

    Examples:
        >>> example_photo().name
        'astronaut.jpg'

        Mask it (needs the landmark model, ``pip install 'fermask[landmarks]'``):

        >>> from fermask import Masker
        >>> result = Masker("n95")(example_photo())  # doctest: +SKIP
        >>> result.masked, len(result.faces)  # doctest: +SKIP
        (True, 1)
    """
    return Path(str(resources.files(__name__).joinpath("astronaut.jpg")))
