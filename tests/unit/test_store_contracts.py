"""Contracts of the emotion log that need no database: the final scores' JSON shape, the database
settings, and the bounded waits an engine is created with."""

from __future__ import annotations

import json

import pytest

from emotion_core.config import DEFAULT_WEIGHTS, DbTimeouts, load_settings
from emotion_core.db import is_server_url, make_engine
from emotion_core.errors import SettingsError, StoreError
from emotion_core.live import FinalScores, person_stats


def test_final_scores_round_trip_through_their_json_form():
    people = (
        person_stats("Ann", {"Happy": 3, "Sad": 1}, DEFAULT_WEIGHTS),
        person_stats("Bob", {"Angry": 2}, DEFAULT_WEIGHTS),
    )
    final = FinalScores(7, 100.0, 130.0, people, 41.5, 3.0, 6)
    stored = json.loads(json.dumps(final.to_dict()))  # what the database gives back
    assert set(stored) == {"people", "overall_score", "overall_points", "total"}
    assert FinalScores.from_dict(stored, 7, 100.0, 130.0) == final


def test_database_timeouts_come_from_the_environment_and_are_checked():
    settings = load_settings({"EMOTION_DB_CONNECT_TIMEOUT": "4", "EMOTION_DB_LOCK_TIMEOUT": "0.5"})
    assert settings.db_timeouts == DbTimeouts(connect_s=4.0, lock_s=0.5, statement_s=5.0)
    with pytest.raises(SettingsError, match="db_statement_timeout_s"):
        load_settings({"EMOTION_DB_STATEMENT_TIMEOUT": "0"})
    with pytest.raises(SettingsError):
        load_settings({"EMOTION_DB_LOCK_TIMEOUT": "soon"})


def test_a_postgresql_url_uses_the_installed_driver():
    for url in ("postgresql://app:pw@db.invalid/app", "postgresql+psycopg2://app:pw@db.invalid/app"):
        engine = make_engine(url)  # psycopg2 is not installed: its URLs use psycopg 3
        try:
            assert engine.dialect.driver == "psycopg"
        finally:
            engine.dispose()
    assert is_server_url("postgresql+psycopg://app@db/app") and not is_server_url("sqlite:///x.db")
    with pytest.raises(StoreError, match="not a database URL"):
        make_engine("not a url")
