"""The canonical emotion labels shared by every backend, the scores and the database."""

LABELS: tuple[str, ...] = ("Happy", "Neutral", "Sad", "Angry", "Disgust", "Fear", "Surprise", "Contempt")

UNKNOWN = "Unknown"
"""Name given to a face that matches no enrolled person."""

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
