"""Forgetting a person: their face encodings and their emotion records, for the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .audit import AuditLog
from .config import DbTimeouts
from .errors import StoreError
from .registry import RegistryStore, normalize_name, remove_person
from .store import EmotionLog, forget_person_records


@dataclass(frozen=True)
class ForgetResult:
    """What forgetting a person deleted."""

    name: str  # as stored in the registry
    records: int | None  # emotion records deleted; None when the database refused (see records_error)
    records_error: str | None = None
    pseudonym: str | None = None  # the name's replacement in the audit log; None if that failed
    audit_error: str | None = None


def forget_person(
    registry: RegistryStore | str | Path,
    log: EmotionLog | str,
    name: str,
    audit: AuditLog,
    actor: str,
    client: str,
    timeouts: DbTimeouts | None = None,
) -> ForgetResult:
    """Remove `name` from `registry` (a store, or a registry file's path), delete their emotion
    records, and replace their name in the audit log by a pseudonym (recording the forget under it,
    by `actor` from `client`).

    `log` is an open `EmotionLog` (its pending writes are filtered too) or a database URL (opened
    with `timeouts`).
    Raises `EmotionCoreError` when the person cannot be removed from the registry (nothing is
    changed then); a database that refuses the deletion is reported in the result, because the
    face encodings are already gone.
    """
    remove_person(registry, name)
    stored = normalize_name(name)
    records: int | None = None
    records_error = pseudonym = audit_error = None
    try:
        records = (
            log.forget_person(stored) if isinstance(log, EmotionLog) else forget_person_records(log, stored, timeouts)
        )
    except StoreError as exc:
        records_error = str(exc)
    try:
        pseudonym = audit.record_forget(stored, actor, client)
    except StoreError as exc:
        audit_error = str(exc)
    return ForgetResult(stored, records, records_error, pseudonym, audit_error)
