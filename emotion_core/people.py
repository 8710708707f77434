"""Forgetting a person: their face encodings and their emotion records, for the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError
from .registry import normalize_name, remove_person
from .store import EmotionLog, forget_person_records


@dataclass(frozen=True)
class ForgetResult:
    """What forgetting a person deleted."""

    name: str  # as stored in the registry
    records: int | None  # emotion records deleted; None when the database refused (see records_error)
    records_error: str | None = None


def forget_person(faces_path: str | Path, log: EmotionLog | str, name: str) -> ForgetResult:
    """Remove `name` from the registry at `faces_path`, then delete their emotion records.

    `log` is an open `EmotionLog` (its pending writes are filtered too) or a database URL.
    Raises `EmotionCoreError` when the person cannot be removed from the registry (nothing is
    changed then); a database that refuses the deletion is reported in the result, because the
    face encodings are already gone.
    """
    remove_person(faces_path, name)
    stored = normalize_name(name)
    try:
        records = log.forget_person(stored) if isinstance(log, EmotionLog) else forget_person_records(log, stored)
    except StoreError as exc:
        return ForgetResult(stored, None, str(exc))
    return ForgetResult(stored, records)
