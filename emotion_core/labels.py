"""The canonical emotion labels shared by every backend, the scores and the database."""

import re

LABELS: tuple[str, ...] = ("Happy", "Neutral", "Sad", "Angry", "Disgust", "Fear", "Surprise", "Contempt")

UNKNOWN = "Unknown"
"""Name given to a face that matches no enrolled person."""

VISITOR = "Visitor"
"""Start of the session-local label of a stranger ("Visitor 1", "Visitor 2", ...)."""

VISITOR_PATTERN = VISITOR + r" \d+"
"""Regular expression of a visitor label (such names cannot be enrolled)."""


def visitor_label(number: int) -> str:
    """The label of the `number`-th stranger of a session."""
    return f"{VISITOR} {number}"


def is_visitor(name: str) -> bool:
    """Whether `name` is a visitor label."""
    return re.fullmatch(VISITOR_PATTERN, name) is not None


def listing_order(name: str) -> tuple[bool, int, str]:
    """Sort key of people's names for listings: names alphabetically, then visitors by number
    ("Visitor 2" before "Visitor 10")."""
    visitor = is_visitor(name)
    return visitor, int(name[len(VISITOR) :]) if visitor else 0, name


def is_stranger(name: str) -> bool:
    """Whether `name` stands for a face that matches nobody enrolled (Unknown or a visitor)."""
    return name == UNKNOWN or is_visitor(name)


SYNONYMS: dict[str, str] = {
    "happy": "Happy",
    "happiness": "Happy",
    "joy": "Happy",
    "neutral": "Neutral",
    "normal": "Neutral",
    "calm": "Neutral",
    "sad": "Sad",
    "sadness": "Sad",
    "angry": "Angry",
    "anger": "Angry",
    "disgust": "Disgust",
    "disgusted": "Disgust",
    "fear": "Fear",
    "fearful": "Fear",
    "afraid": "Fear",
    "scared": "Fear",
    "surprise": "Surprise",
    "surprised": "Surprise",
    "contempt": "Contempt",
}


def canonical_label(name: str) -> str | None:
    """Return the canonical label for `name` (case-insensitive, synonyms allowed), or None."""
    return SYNONYMS.get(name.strip().lower())
