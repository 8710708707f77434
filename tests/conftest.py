"""Shared fixtures: paths to the real material in ../shared/data and temporary stores."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
FACES = SHARED_DATA / "faces"
GROUPS = FACES / "_groups"
EMOTIONS = SHARED_DATA / "emotions"
HAMILTON = SHARED_DATA / "videos" / "fr__short_hamilton_clip.mp4"

if not FACES.is_dir():
    raise pytest.UsageError(f"test data not found at {SHARED_DATA}: clone the project beside ../shared")


def photos(person: str) -> list[Path]:
    """The photos of `person` in ../shared/data/faces, sorted."""
    return sorted(p for p in (FACES / person).iterdir() if p.is_file())


@pytest.fixture
def faces_path(tmp_path: Path) -> Path:
    """A registry path in a fresh temporary folder (no file yet)."""
    return tmp_path / "faces.pkl"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'emotions.db'}"


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server for the whole test run (see tests/postgres.py)."""
    from tests.postgres import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(postgres, request):
    """The URL of a fresh PostgreSQL database owned by a fresh non-superuser role."""
    name = f"t_{secrets.token_hex(6)}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path: Path) -> str:
    """A fresh database of each kind: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'emotions.db'}"
    return request.getfixturevalue("pg_url")
