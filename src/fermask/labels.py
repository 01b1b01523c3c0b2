"""The seven FER2013 emotions, in FER2013's label order.

FER2013 numbers its classes 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad,
5 surprise, 6 neutral. Folder copies of the dataset sort their folders
alphabetically, which is a different order: always map folder names through
:func:`label_index`, never by position.

Examples:
    >>> from fermask.labels import EMOTIONS, label_index
    >>> EMOTIONS[3]
    'happy'
    >>> label_index("Surprise")
    5
"""

from __future__ import annotations

from .errors import DataFormatError

__all__ = ["EMOTIONS", "NUM_CLASSES", "label_index", "label_name"]

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The FER2013 class names, indexed by FER2013 label."""

NUM_CLASSES: int = len(EMOTIONS)

# Spellings found in the wild (FER+ columns, other datasets' folders).
_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "neutrality": "neutral",
}


def label_index(name: str) -> int:
    """Return the FER2013 label number of an emotion name.

    Case and common synonyms (``"happiness"``, ``"anger"``, ``"surprised"``)
    are accepted.

    Args:
        name: An emotion name.

    Returns:
        Its index in :data:`EMOTIONS`.

    Raises:
        DataFormatError: The name is not one of the seven emotions.

    Examples:
        >>> label_index("happiness")
        3
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return EMOTIONS.index(key)
    except ValueError:
        raise DataFormatError(
            f"unknown emotion name {name!r}; expected one of {', '.join(EMOTIONS)} "
            f"(synonyms accepted: {', '.join(sorted(_ALIASES))})"
        ) from None


def label_name(index: int) -> str:
    """Return the emotion name of a FER2013 label number.

    Args:
        index: A label from 0 to 6.

    Returns:
        The emotion name.

    Raises:
        DataFormatError: The label is out of range.

    Examples:
        >>> label_name(0)
        'angry'
    """
    i = int(index)
    if not 0 <= i < NUM_CLASSES:
        raise DataFormatError(f"emotion label {index!r} is out of range; expected 0 to {NUM_CLASSES - 1}")
    return EMOTIONS[i]
