"""Where the tests' real material lives: the shared data folder beside the clone and the fetched weights.

Paths only; nothing here reads them. Tests that need the data carry the `requires_data` marker and
are skipped with `DATA_MISSING` as the reason when the folder is absent (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
FACES = SHARED_DATA / "faces"
GROUPS = FACES / "_groups"
EMOTIONS = SHARED_DATA / "emotions"
HAMILTON = SHARED_DATA / "videos" / "fr__short_hamilton_clip.mp4"
MODELS = PROJECT_ROOT / "models"

DATA_MISSING = f"needs the test data at {SHARED_DATA} (clone the project beside ../shared)"


def have_data() -> bool:
    """Whether the shared test data is there (its faces folder at least)."""
    return FACES.is_dir()


def photos(person: str) -> list[Path]:
    """The photos of `person` in ../shared/data/faces, sorted."""
    return sorted(p for p in (FACES / person).iterdir() if p.is_file())
