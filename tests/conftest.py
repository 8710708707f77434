"""Fixtures for every test layer, and the skip of tests whose real data or weights are absent.

A fresh clone without ../shared (or without fetched weights) still runs what it can: tests marked
`requires_data` are skipped with the reason, and the weights fixtures skip when the file is missing.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.data import DATA_MISSING, MODELS, have_data


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if have_data():
        return
    skip = pytest.mark.skip(reason=DATA_MISSING)
    for item in items:
        if item.get_closest_marker("requires_data"):
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def faceapi_path() -> Path:
    """models/faceapi_expression.onnx (fetched by ./run.sh setup); the test is skipped without it."""
    from emotion_core import weights

    path = MODELS / weights.FACEAPI_FILE
    if not path.is_file():
        pytest.skip(f"needs {path}: `.venv/bin/python -m emotion_core models fetch faceapi` (./run.sh setup does)")
    return path


@pytest.fixture(scope="session")
def faceapi_model(faceapi_path: Path):
    """The real faceapi emotion model from models/."""
    from emotion_core.emotions import load_emotion_model

    return load_emotion_model("faceapi", faceapi_path.parent)
